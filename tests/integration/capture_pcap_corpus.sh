#!/usr/bin/env bash
# Every capture in ../shared/corpus/pcap is handled: the request and answered
# counts tide must find in each (with --detect: HTTP on any port) are stated
# below and were checked against tshark's http.request / http.response counts
# in the same corpus; where they differ, the reason is written down. Skips
# when the corpus is absent.
set -u
TIDE=${1:?usage: capture_pcap_corpus.sh TIDE}
. "$(dirname "$0")/lib.sh"
C=../shared/corpus/pcap
[ -d "$C" ] || skip "../shared/corpus/pcap is absent (only developer checkouts have it)"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
# file | requests answered | exit | tshark's requests answered, and why tide differs
while IFS='|' read -r f want rc_want why; do
  [ -n "$f" ] || continue
  out=$("$TIDE" capture pcap --raw --detect "$C/$f" -o "$W/t.tide" 2>&1)
  rc=$?
  [ "$rc" -eq "$rc_want" ] || fail "$f: exit $rc, want $rc_want: $out"
  got=$(echo "$out" | sed -nE 's/.*, ([0-9]+) requests written \(([0-9]+) answered.*/\1 \2/p')
  [ "$rc_want" -eq 2 ] && got="-"
  [ "$got" = "$want" ] || fail "$f: got '$got' (requests answered), want '$want'"
  if [ "$rc_want" -ne 2 ]; then
    n=$("$TIDE" cat --allow-raw "$W/t.tide" | wc -l)
    [ "$n" -eq "${want%% *}" ] || fail "$f: trace holds $n records"
  fi
  pass "$f: $want${why:+ ($why)}"
done <<'LIST'
arkime/http-basicauth.pcap|1 1|0|
arkime/http-content-gzip.pcap|1 1|0|
arkime/http-empty-useragent.pcap|1 1|0|
arkime/http-post-upload.pcap|3 3|0|
arkime/http-tcp-seq-issue.pcap|1 0|0|tshark 0 0: the request's first segment arrives after its second and is retransmitted whole; tide reassembles it. The capture ends inside the response
arkime/http-xff.pcap|1 1|0|
arkime/tcp-reassembly-synthetic.pcap|11 2|0|
arkime/twovlan.pcap|1 0|0|
arkime/v6-http.pcap|1 1|0|
arkime/wireshark-retrans.pcap|4 4|0|tshark 4 6: tshark counts retransmitted response segments again; tide pairs each response once
pcapng-test-generator/le_advanced_test100.pcapng|0 0|0|synthetic pcapng (several sections, byte orders, link types): no HTTP
pcapng-test-generator/le_advanced_test101.pcapng|0 0|0|synthetic pcapng (several sections, byte orders, link types): no HTTP
pcapng-test-generator/le_advanced_test102.pcapng|0 0|0|synthetic pcapng (several sections, byte orders, link types): no HTTP
pcapng-test-generator/le_difficult_test202.pcapng|0 0|0|synthetic pcapng (several sections, byte orders, link types): no HTTP
pcapplusplus/ExamplesTest__pcap_examples__http-packets2.pcap|57 57|0|tshark 57 58: one response belongs to a request sent before the capture began; tide only pairs requests it saw
pcapplusplus/Packet++Test__PacketExamples__PartialHttpRequest.pcap|0 0|0|
pcapplusplus/Packet++Test__PacketExamples__TwoHttpRequests.pcap|2 0|0|
pcapplusplus/Pcap++Test__PcapExamples__four_ipv6_http_streams.pcap|9 9|0|
pcapplusplus/Pcap++Test__PcapExamples__frag_http_req.pcap|1 0|0|
pcapplusplus/Pcap++Test__PcapExamples__nanosecs_big_endian.pcap|1 1|0|
pcapplusplus/Pcap++Test__PcapExamples__one_http_stream_rst.pcap|1 1|0|
pcapplusplus/Pcap++Test__PcapExamples__one_tcp_stream_max_seq.pcap|2 2|0|
pcapplusplus/Pcap++Test__PcapExamples__pcapng-example.pcapng|0 0|0|tshark 0 1: Ethernet and Linux cooked interfaces in one pcapng (read by tide itself: libpcap refuses it); the one response answers a request from before the capture
pcapplusplus/Pcap++Test__PcapExamples__raw_ip.pcap|19 6|0|
pcapplusplus/Pcap++Test__PcapExamples__unidirectional_tcp_stream_with_missing_packet.pcap|0 0|0|tshark 1 0: a segment inside the request is missing; tide never passes a request with a hole in it (counted as a gap)
scapy/http_chunk.pcap.gz|1 1|0|
scapy/http_compressed.pcap|1 0|0|tshark 1 1: the response is on another connection (port 64700) than the request (64698); it cannot be paired
scapy/http_head.pcapng.gz|1 1|0|
suricata-verify/decode-sll2-01.pcap|1 0|0|
suricata-verify/detect-pcre__detect-pcre-02.pcap|1 0|0|
suricata-verify/http-chunked.pcap|1 0|0|
suricata-verify/http-evader__http-evader-100.pcap|1 0|0|tshark 1 1: an evasion test whose response framing tide refuses to trust
suricata-verify/http-evader__http-evader-284.pcap|1 0|0|tshark 1 1: an evasion test whose response framing tide refuses to trust
suricata-verify/http-gap-simple.pcap|3 1|0|tshark 3 2: a response is cut by a TCP gap; tide counts the gap and keeps the request without a status
suricata-verify/http-ipv6.pcap|1 1|0|
suricata-verify/http-mime-truncated.pcap|8 8|5|
suricata-verify/http-multiple-cl.pcap|0 0|0|tshark 1 1: two different Content-Length headers (request smuggling); tide does not guess the framing and counts the bytes as unparsable
suricata-verify/http-pipeline-files-with-gap.pcap|3 2|0|tshark 3 1: after the gap tide resyncs at the next response line and pairs it; tshark gives up on the stream
suricata-verify/http-post-file.pcap|3 3|0|
tcpdump/empty.pcapng|0 0|0|
tcpdump/ipv4_tcp_http_xml_tso.pcap|1 0|0|
tcpdump/print-flags.pcap|1 1|0|
zeek/http-qinq-0.pcap|1 1|0|
zeek/http-vlan-0.pcap|1 1|0|
zeek/http__100-continue.pcap|1 1|0|tshark 1 2: tshark counts the interim 100 Continue as a response; tide pairs the final one
zeek/http__261__variant-01-chunk_2pow64_overflow.pcap|1 0|0|
zeek/http__261__variant-04-te_cl_desync.pcap|2 0|0|tshark 1 0: Transfer-Encoding and Content-Length together; tide frames by chunked (RFC 9112) and so sees the smuggled second request
zeek/http__basic-auth-with-colon.pcap|1 1|0|
zeek/http__connect-with-header.pcap|1 1|0|
zeek/http__cooper-grill-dvwa.pcapng|3 3|0|
zeek/http__curl_http_09.pcap|1 0|0|
zeek/http__entity_gap.pcap|1 0|0|
zeek/http__get-without-fins.pcap|1 1|0|
zeek/http__get.pcap|1 1|0|
zeek/http__get_nosyn.pcap|1 1|0|
zeek/http__http-lower-case.pcap|1 0|0|
zeek/http__http-non-printable-characters.pcap|4 4|0|
zeek/http__methods.pcap|9 9|0|tshark 27 49: most requests here have malformed request lines (no URI, no version, binary method); tide keeps the 9 well-formed ones and counts the rest as unparsable
zeek/http__multipart-form-data.pcap|1 0|0|
zeek/http__percent-end-of-line.pcap|2 2|0|
zeek/http__pipelined-requests.pcap|5 5|0|
zeek/http__post.pcap|1 1|0|
zeek/http__smuggle-http-request.pcap|2 2|0|
zeek/http__zero-length-bodies-with-drops.pcap|6 6|0|tshark 7 8: packets were dropped in the capture; one request falls into the gap
zeek/ipv6-http-atomic-frag.pcap|0 0|0|
zeek/nflog-http.pcap|1 1|0|
zeek/tcp__handshake-reorder.pcap|1 1|0|
zeek/tcp__missing-syn.pcap|1 1|0|
zeek/tcp__retransmit-timeout.pcapng|1 0|0|
zeek/vlan-qinqinq.pcap|1 1|0|
zeek/wikipedia.pcap|15 15|0|
zeek/workshop_2011_browse.pcap|17 17|0|
zeek/www-odd-url.pcap|1 1|0|
LIST

# Fidelity: browsers' user agents survive anonymization (Firefox's rv:1.9.2.15
# and Chrome/120.0.0.0 are versions, not addresses).
"$TIDE" keygen -o "$W/k" 2>/dev/null
for f in zeek/wikipedia.pcap zeek/http__pipelined-requests.pcap suricata-verify/detect-pcre__detect-pcre-02.pcap; do
  "$TIDE" capture pcap --raw --detect "$C/$f" -o "$W/raw.tide" 2>/dev/null || fail "$f: raw capture"
  "$TIDE" capture pcap --key-file "$W/k" --detect "$C/$f" -o "$W/an.tide" 2>/dev/null || fail "$f: anonymized capture"
  q='[.headers[] | select(.[0] == "User-Agent") | .[1]] | .[0] // ""'
  "$TIDE" cat --allow-raw "$W/raw.tide" | jq -r "$q" >"$W/a"
  "$TIDE" cat "$W/an.tide" | jq -r "$q" >"$W/b"
  cmp -s "$W/a" "$W/b" || fail "$f: user agents changed: $(diff "$W/a" "$W/b" | head -2 | tr '\n' ' ')"
done
pass "anonymizing keeps browsers' user agents (versions are not addresses)"

# tide's audit passes what tide's anonymizer makes of every capture here (it
# FAILed three: a multipart boundary and 32-hex-digit entity tags were taken
# for API keys), and an upload's multipart body stays one: its delimiters are
# the Content-Type's boundary, as in the raw capture (they were replaced by
# tokens, so the replayed upload could not be parsed)
n=0
while read -r f; do
  "$TIDE" capture pcap --key-file "$W/k" --detect "$f" -o "$W/an.tide" >/dev/null 2>&1
  [ $? -eq 2 ] && continue # not a capture tide reads (stated above)
  "$TIDE" audit "$W/an.tide" >"$W/audit" 2>&1 || fail "${f#"$C"/}: audit of the anonymized capture: $(grep -E 'FINDING|tide' "$W/audit" | head -3)"
  n=$((n + 1))
done < <(find "$C" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) | sort)
[ "$n" -ge 50 ] || fail "only $n captures audited"
for f in arkime/http-post-upload.pcap zeek/http__multipart-form-data.pcap; do
  "$TIDE" capture pcap --raw --detect "$C/$f" -o "$W/raw.tide" 2>/dev/null
  "$TIDE" capture pcap --key-file "$W/k" --detect "$C/$f" -o "$W/an.tide" 2>/dev/null
  for t in raw an; do
    "$TIDE" cat --allow-raw "$W/$t.tide" | jq -r 'select(.body) | [(.headers[] | select(.[0] | ascii_downcase == "content-type") | .[1] | capture("boundary=(?<b>[^;]+)").b), (.body | @base64d | split("\r\n") | map(select(startswith("--"))) | .[0])] | @tsv' >"$W/$t.b"
  done
  [ -s "$W/an.b" ] && cmp -s "$W/raw.b" "$W/an.b" || fail "$f: multipart delimiters changed: $(cat "$W/an.b")"
  awk -F'\t' '{ if ($2 != "--" $1) exit 1 }' "$W/an.b" || fail "$f: delimiter is not the boundary: $(cat "$W/an.b")"
done
pass "the audit passes tide's anonymized capture of each of $n captures; multipart uploads keep their boundary"
finish
