#!/usr/bin/env bash
# Synthetic personal data of every type, planted in every place (path, query,
# header, cookie, referer, user agent, nested JSON body, form body, free text)
# in every encoding (plain, percent, double percent, '+', base64, base64url,
# JSON inside a query value). After capture with the default policy none of
# the planted values appears in `tide cat` output in any encoding; structure,
# methods, statuses, timings and sizes are unchanged; pseudonyms are stable
# under one key across runs and files, and differ under another; `tide audit`
# FAILs the raw trace and PASSes the anonymized one.
set -u
TIDE=${1:?usage: anonymize.sh TIDE}
. "$(dirname "$0")/lib.sh"
need python3
need jq
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

python3 - "$W" <<'PY'
import base64, json, sys, urllib.parse
W = sys.argv[1]
pii = {
  "email": "maria.lopez@gmail.com",
  "email2": "jose.guardian@school-mail.org",
  "name": "Maria Lopez",
  "guardian": "Jose Lopez",
  "phone": "(617) 234-5678",
  "phone_e164": "+14155552671",
  "ssn": "123-45-6789",
  "card": "4532015112830366",
  "ipv4": "198.51.100.23",
  "ipv6": "2001:db8:85a3::8a2e:370:7334",
  "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtYXJpYSIsIm5hbWUiOiJNYXJpYSBMb3BleiJ9.c2lnbmF0dXJlc2lnbmF0dXJlc2ln",
  "apikey": "sk_live_51HxQ2eK9zVbT7uA8mN3pR6wY4",
  "student_id": "48213907",
  "dob": "2010-05-17",
  "address": "742 Evergreen Terrace",
  "password": "hunter2-correct-horse",
  "session": "s3ss10n-abcdef-123456",
}
json.dump(pii, open(W + "/planted.json", "w"))
q = urllib.parse.quote
b64 = lambda s: base64.b64encode(s.encode()).decode()
b64u = lambda s: base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")
recs = []
def rec(i, method, path, query, headers, body=None, status=200):
    r = {"ts": "2026-11-20T10:%02d:%02d.123000000Z" % (i // 60, i % 60), "method": method,
         "scheme": "https", "host": "learn.example.edu", "path": path, "query": query,
         "version": "HTTP/1.1", "headers": headers, "status": status, "resp_bytes": 1000 + i,
         "duration_ms": 10 + i, "client": pii["ipv4"] if i % 2 else pii["ipv6"],
         "session": pii["session"], "source": "gen:%d" % i}
    if body is not None:
        r["body"] = base64.b64encode(body.encode()).decode()
    recs.append(r)
ua = "Mozilla/5.0 (X11; Linux x86_64) contact " + pii["email"]
H = lambda *extra: [["Host", "learn.example.edu"], ["User-Agent", ua]] + list(extra)
# path
rec(0, "GET", "/api/students/%s/essays" % pii["student_id"], "page=2", H())
rec(1, "GET", "/u/%s/profile" % q(pii["email"]), "", H())
# query: plain, percent, double percent, plus, base64, base64url, JSON in a value
rec(2, "GET", "/search", "q=%s&email=%s&page=1" % (q(pii["name"]).replace("%20", "+"), q(pii["email"])), H())
rec(3, "GET", "/search", "ref=%s" % q(q(pii["email"])), H())
rec(4, "GET", "/track", "d=%s&u=%s" % (b64(pii["email"] + " " + pii["phone"]), b64u(pii["ssn"] + " at " + pii["email2"])), H())
rec(5, "GET", "/api/filter", "f=%s" % q(json.dumps({"student_name": pii["name"], "dob": pii["dob"], "page": 3})), H())
rec(6, "GET", "/callback", "access_token=%s&state=xyz123&code=%s" % (pii["jwt"], pii["apikey"]), H())
# headers and cookies, referer
rec(7, "GET", "/dashboard", "", H(["Authorization", "Bearer " + pii["jwt"]],
    ["Cookie", "sessionid=%s; student_id=%s; lang=en" % (pii["session"], pii["student_id"])],
    ["X-Forwarded-For", "%s, 10.0.0.1" % pii["ipv4"]],
    ["Referer", "https://learn.example.edu/profile?student_name=%s&email=%s" % (q(pii["name"]), q(pii["email2"]))],
    ["X-Api-Key", pii["apikey"]], ["X-Student-Email", pii["email"]]))
# JSON body, nested, with free text naming the student
body = {"student": {"name": pii["name"], "email": pii["email"], "student_id": int(pii["student_id"]),
        "dob": pii["dob"], "address": pii["address"], "phone": pii["phone"]},
        "guardian": {"name": pii["guardian"], "email": pii["email2"], "phone": pii["phone_e164"]},
        "essay": "My name is %s. My guardian %s can be reached at %s or %s. SSN %s, card %s. I was born %s." % (
            pii["name"], pii["guardian"], pii["phone"], pii["email2"], pii["ssn"], pii["card"], pii["dob"]),
        "password": pii["password"], "score": 92, "tags": ["science", "biology"]}
rec(8, "POST", "/api/essays", "", H(["Content-Type", "application/json"]), json.dumps(body), 201)
# form body
form = "username=%s&password=%s&email=%s&remember=1" % (q(pii["name"]), q(pii["password"]), q(pii["email"]))
rec(9, "POST", "/login", "", H(["Content-Type", "application/x-www-form-urlencoded"]), form, 302)
# a gzip-encoded JSON body
import gzip
gz = gzip.compress(json.dumps({"student_name": pii["name"], "email": pii["email2"], "note": "call " + pii["phone"]}).encode())
r = {"ts": "2026-11-20T10:00:11.123000000Z", "method": "POST", "scheme": "https", "host": "learn.example.edu",
     "path": "/api/sync", "query": "", "version": "HTTP/1.1",
     "headers": [["Host", "learn.example.edu"], ["Content-Type", "application/json"], ["Content-Encoding", "gzip"]],
     "status": 200, "resp_bytes": 5, "duration_ms": 3, "client": pii["ipv4"], "session": pii["session"],
     "source": "gen:11", "body": base64.b64encode(gz).decode()}
recs.append(r)
# free-text search body and AI feedback request
rec(10, "POST", "/api/ai/feedback", "", H(["Content-Type", "text/plain"]),
    "Please review the essay of %s (%s), call %s." % (pii["name"], pii["email"], pii["phone"]), 200)
# names are known from personal fields of the same or an earlier record: the
# records that carry them (5, 8, 9) come before the free text that mentions them
recs = [recs[i] for i in (0, 1, 5, 8, 9, 2, 3, 4, 6, 7, 11, 10)]
# and start in that order too: a trace hands records out by start time
for j, r in enumerate(recs):
    r["ts"] = "2026-11-20T10:00:%02d.123000000Z" % j
with open(W + "/a.jsonl", "w") as f:
    for r in recs[:6]:
        f.write(json.dumps(r) + "\n")
with open(W + "/b.jsonl", "w") as f:
    for r in recs[6:]:
        f.write(json.dumps(r) + "\n")
with open(W + "/all.jsonl", "w") as f:
    for r in recs:
        f.write(json.dumps(r) + "\n")
PY

"$TIDE" keygen -o "$W/k1" 2>/dev/null || fail "keygen"
[ "$(stat -c %a "$W/k1")" = 600 ] && [ "$(stat -c %s "$W/k1")" -eq 32 ] || fail "key file mode/size"
"$TIDE" keygen -o "$W/k2" 2>/dev/null
"$TIDE" keygen -o "$W/k1" 2>/dev/null && fail "keygen overwrote a key"
pass "keygen writes 32 bytes with mode 0600 and never overwrites"

"$TIDE" import --key-file "$W/k1" "$W/all.jsonl" -o "$W/anon.tide" 2>"$W/err" || fail "import: $(cat "$W/err")"
"$TIDE" cat "$W/anon.tide" >"$W/anon.jsonl" || fail "cat of an anonymized trace needs no --allow-raw"
# every record's body decoded too (gzip bodies gunzipped), for the search below
jq -r '.body // empty' "$W/anon.jsonl" | while read -r b; do echo "$b" | base64 -d | { gzip -dc 2>/dev/null || true; }; echo "$b" | base64 -d; echo; done >"$W/bodies.txt"
python3 - "$W" <<'PY' || exit 1
import base64, json, sys, urllib.parse
W = sys.argv[1]
pii = json.load(open(W + "/planted.json"))
out = open(W + "/anon.jsonl").read() + open(W + "/bodies.txt", errors="ignore").read()
# decode every base64-looking run in the output too, so a value hidden in a layer is found
import re
extra = []
for m in re.finditer(r"[A-Za-z0-9+/_=-]{16,}", out):
    s = m.group(0)
    for dec in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            extra.append(dec(s + "=" * (-len(s) % 4)).decode("utf-8", "ignore"))
        except Exception:
            pass
hay = out + "\n".join(extra)
hay_dec = urllib.parse.unquote_plus(urllib.parse.unquote_plus(hay))
bad = []
for k, v in pii.items():
    forms = {v, urllib.parse.quote(v), urllib.parse.quote_plus(v), base64.b64encode(v.encode()).decode().rstrip("="),
             v.lower(), v.replace(" ", "+")}
    words = [w for w in v.split() if len(w) >= 4 and w[0].isupper()]
    for f in forms | set(words):
        if f and (f in hay or f in hay_dec):
            bad.append("%s (as %r form)" % (k, "word" if f in words else "encoded"))
            break
if bad:
    print("FAIL - planted values found in the anonymized output: " + ", ".join(bad))
    sys.exit(1)
PY
pass "no planted value appears in the output, in any encoding"

# structure is kept: methods, statuses, timings, sizes, query key names, route shape
# (record by record: a trace hands records out by start time, the file has them in another order)
jq -sc 'sort_by(.source)[] | [.source, .method, .status, .duration_ms, .resp_bytes, .host, (.query | split("&") | map(split("=")[0]))]' "$W/all.jsonl" >"$W/s1"
jq -sc 'sort_by(.source)[] | [.source, .method, .status, .duration_ms, .resp_bytes, .host, (.query | split("&") | map(split("=")[0]))]' "$W/anon.jsonl" >"$W/s2"
cmp -s "$W/s1" "$W/s2" || fail "structure changed: $(diff "$W/s1" "$W/s2" | head -5)"
[ "$(jq -r 'select(.source == "gen:0") | .path' "$W/anon.jsonl" | sed -E 's#/[0-9]{8}/#/{id}/#')" = "/api/students/{id}/essays" ] || fail "route shape"
[ "$(jq -r 'select(.source == "gen:0") | .path' "$W/anon.jsonl" | cut -d/ -f4 | tr -d '0-9' | wc -c)" -eq 1 ] || fail "student id not digits"
pass "methods, statuses, timings, sizes, query keys and route shapes are unchanged"

# the essay keeps its ordinary words, and the JSON keeps its types
essay=$(jq -r 'select(.source == "gen:8") | .body' "$W/anon.jsonl" | base64 -d | jq -r .essay)
case "$essay" in "My name is p_"*"can be reached at"*) ;; *) fail "essay lost its words: $essay" ;; esac
[ "$(jq -r 'select(.source == "gen:8") | .body' "$W/anon.jsonl" | base64 -d | jq -r '.student.student_id | type')" = number ] || fail "student_id no longer a number"
[ "$(jq -r 'select(.source == "gen:8") | .body' "$W/anon.jsonl" | base64 -d | jq -r '.student.dob')" = 2010-01-01 ] || fail "dob not generalized"
[ "$(jq -r 'select(.source == "gen:8") | .body' "$W/anon.jsonl" | base64 -d | jq -r 'has("password")')" = false ] || fail "password kept"
[ "$(jq -r 'select(.source == "gen:8") | .body' "$W/anon.jsonl" | base64 -d | jq -r '.student.email')" != "" ] || fail "email dropped"
jq -r 'select(.source == "gen:8") | .body' "$W/anon.jsonl" | base64 -d | jq -r '.student.email' | grep -q '@example.invalid$' || fail "email shape"
pass "free text keeps its words; numbers stay numbers; dates generalize to the year; passwords are dropped"

# a name in the body's name field is replaced where the essay mentions it, with the same pseudonym
pn=$(jq -r 'select(.source == "gen:8") | .body' "$W/anon.jsonl" | base64 -d | jq -r .student.name)
echo "$essay" | grep -q "My name is $pn\." || fail "essay name differs from the name field's pseudonym"
# the same value gets the same pseudonym everywhere (query email == JSON email),
# and a name from a personal field is replaced in later free text (a search query)
sq=$(jq -r 'select(.source == "gen:2") | .query' "$W/anon.jsonl")
case "$sq" in "q=$pn&"*|"q=${pn}+"*|"q=p_"*"+p_"*"&"*) ;; *) fail "search query name not replaced: ${sq%%&*}" ;; esac
qe=$(jq -r 'select(.source == "gen:2") | .query' "$W/anon.jsonl" | tr '&' '\n' | sed -n 's/^email=//p' | python3 -c 'import sys,urllib.parse;print(urllib.parse.unquote(sys.stdin.read().strip()))')
je=$(jq -r 'select(.source == "gen:8") | .body' "$W/anon.jsonl" | base64 -d | jq -r .student.email)
[ "$qe" = "$je" ] || fail "same email, different pseudonyms: $qe vs $je"
pass "one value, one pseudonym: across query, JSON field and free text"

# the same email in capitals, percent-encoded in a path, and twice-encoded in
# a query value is the same person: one pseudonym. A replaced value is
# encoded as it was (%20 stays %20, %40 stays %40; '+' in a path is a plus sign), and the
# audit passes what the anonymizer made of a search with a space before the
# email and of JSON inside a query value (it read both as longer addresses)
printf '%s\n' '{"ts":"2026-11-20T10:00:00Z","method":"GET","path":"/search","query":"q=maria.lopez@gmail.com"}' \
  '{"ts":"2026-11-20T10:00:01Z","method":"GET","path":"/search","query":"q=contact%20MARIA.LOPEZ%40GMAIL.COM"}' \
  '{"ts":"2026-11-20T10:00:02Z","method":"GET","path":"/users/maria.lopez%40gmail.com/essays","query":""}' \
  '{"ts":"2026-11-20T10:00:03Z","method":"GET","path":"/s","query":"email=maria.lopez%2540gmail.com"}' \
  '{"ts":"2026-11-20T10:00:04Z","method":"GET","path":"/api/x","query":"f=%7B%22email%22%3A%22maria.lopez%40gmail.com%22%7D"}' \
  '{"ts":"2026-11-20T10:00:05Z","method":"GET","path":"/files/essay%20by%20maria.lopez%40gmail.com/c++","query":""}' \
  '{"ts":"2026-11-20T10:00:06Z","method":"GET","path":"/p","query":"student_id=S-99812&m=(617)2345678&t=my%20ssn%20is%20078051120"}' \
  '{"ts":"2026-11-20T10:00:07Z","method":"GET","path":"/verify","query":"maria.lopez@gmail.com&x=1"}' \
  '{"ts":"2026-11-20T10:00:08Z","method":"GET","path":"/f","query":"f=%7B%22student_name%22%3A%22Maria%20Lopez%22%2C%22dob%22%3A%222010-05-17%22%2C%22pa"}' >"$W/enc.jsonl"
"$TIDE" import --key-file "$W/k1" "$W/enc.jsonl" -o "$W/enc.tide" 2>/dev/null || fail "import of encoded emails"
"$TIDE" cat "$W/enc.tide" | jq -r '.path + "?" + .query' >"$W/enc.txt"
pe=$(sed -n '1s/.*q=//p' "$W/enc.txt")
case "$pe" in p_*@example.invalid) ;; *) fail "email pseudonym: $pe" ;; esac
pe40=${pe/@/%40} # written as the value was: '@' as %40
[ "$(sed -n 2p "$W/enc.txt")" = "/search?q=contact%20$pe40" ] || fail "capitals or %20: $(sed -n 2p "$W/enc.txt")"
[ "$(sed -n 3p "$W/enc.txt")" = "/users/$pe/essays?" ] || fail "encoded email in a path: $(sed -n 3p "$W/enc.txt")"
[ "$(sed -n 4p "$W/enc.txt")" = "/s?email=$pe" ] || fail "twice-encoded email: $(sed -n 4p "$W/enc.txt")"
[ "$(sed -n 5p "$W/enc.txt")" = "/api/x?f=%7B%22email%22%3A%22$pe40%22%7D" ] || fail "JSON in a query value: $(sed -n 5p "$W/enc.txt")"
[ "$(sed -n 6p "$W/enc.txt")" = "/files/essay%20by%20$pe40/c++?" ] || fail "path spaces: $(sed -n 6p "$W/enc.txt")"
case "$(sed -n 7p "$W/enc.txt")" in "/p?student_id="[A-Z]-[0-9][0-9][0-9][0-9][0-9]"&m=("*")"*"&t=my%20ssn%20is%209"*) ;;
  *) fail "class-shaped id, phone, ssn in words: $(sed -n 7p "$W/enc.txt")" ;; esac
[ "$(sed -n 8p "$W/enc.txt")" = "/verify?$pe&x=1" ] || fail "an email as a query key: $(sed -n 8p "$W/enc.txt")"
case "$(sed -n 9p "$W/enc.txt")" in "/f?f=%7B%22student_name%22%3A%22p_"*"%22%2C%22dob%22%3A%222010-01-01%22%2C%22pa") ;;
  *) fail "JSON in a query value, cut with the URL: $(sed -n 9p "$W/enc.txt")" ;; esac
grep -q -e S-99812 -e 2345678 -e 078051120 "$W/enc.txt" && fail "id, phone or ssn kept: $(sed -n 7p "$W/enc.txt")"
"$TIDE" audit "$W/enc.tide" >"$W/enc.audit" || fail "audit of encoded emails: $(cat "$W/enc.audit")"
# the id's pseudonym keeps its shape: not a finding, said as residual risk
"$TIDE" audit --json "$W/enc.tide" | jq -e '.residual_risk.id_shaped_personal_values == 1' >/dev/null || fail "id-shaped values not counted"
pass "an email in capitals, encoded in a path, twice in a query value or as a query key: one pseudonym; encoded as the value was; audit PASS"

# a JSON body cut short (at capture's --max-body, or by the application's
# log) does not parse: its members are still found by their tokens and each
# value treated by its key (the whole body was scanned as text: names, ids
# and passwords under their keys stayed, and the audit passed it). Every cut
# of one body, none keeps a planted value; the audit finds the raw ones
python3 - "$W/cut.jsonl" <<'PY'
import base64, json, sys
full = json.dumps({"student": {"name": "Maria Garcia", "student_id": "S-48213907", "email": "maria.garcia@school.edu"},
                   "guardian": {"name": "Jose Garcia", "phone": "(617) 234-5678"}, "password": "hunter2-horse",
                   "tags": ["a", "maria.garcia@school.edu"], "essay": "Hi, I am Maria Garcia \"the\" writer, born 2010-05-17."})
with open(sys.argv[1], "w") as f:
    for i in range(1, len(full)):
        f.write(json.dumps({"ts": "2026-11-20T10:00:00Z", "method": "POST", "path": "/api/essays",
                            "headers": [["Content-Type", "application/json"]],
                            "body": base64.b64encode(full[:i].encode()).decode(), "source": "cut:%d" % i}) + "\n")
PY
"$TIDE" import --key-file "$W/k1" "$W/cut.jsonl" -o "$W/cut.tide" 2>/dev/null || fail "import of cut bodies"
"$TIDE" cat "$W/cut.tide" | jq -r '.body | @base64d' >"$W/cut.out"
[ "$(wc -l <"$W/cut.out")" -ge 290 ] || fail "cut bodies: $(wc -l <"$W/cut.out") lines"
for v in Maria Garcia 48213907 maria.garcia Jose 234-5678 hunter2 2010-05-17; do
  grep -qF -- "$v" "$W/cut.out" && fail "a cut JSON body kept '$v': $(grep -F -- "$v" "$W/cut.out" | head -1)"
done
"$TIDE" audit "$W/cut.tide" >/dev/null || fail "audit of the anonymized cut bodies: $("$TIDE" audit "$W/cut.tide" | grep FINDING)"
"$TIDE" import --raw "$W/cut.jsonl" -o "$W/cutraw.tide" 2>/dev/null
"$TIDE" audit "$W/cutraw.tide" | grep -q "FINDING personal_field in json body" || fail "the audit does not see names in cut raw bodies"
# a password or a token left in a trace (by hand, or by a tool that does not
# know the key) is a finding of its own, whatever the manifest says
printf '%s\n' '{"ts":"2026-11-20T10:00:00Z","method":"POST","path":"/login","query":"access_token=abc123","headers":[["Content-Type","application/x-www-form-urlencoded"]],"body":"dXNlcj1tJnBhc3N3b3JkPWh1bnRlcjI="}' >"$W/pw.jsonl"
"$TIDE" import --raw "$W/pw.jsonl" -o "$W/pw.tide" 2>/dev/null
"$TIDE" audit "$W/pw.tide" >"$W/pw.audit"
grep -q "FINDING secret_field   in form body" "$W/pw.audit" && grep -q "FINDING secret_field   in query" "$W/pw.audit" ||
  fail "a password or token in a raw trace is no secret_field finding: $(cat "$W/pw.audit")"
"$TIDE" import --key-file "$W/k1" "$W/pw.jsonl" -o "$W/pwa.tide" 2>/dev/null
"$TIDE" audit "$W/pwa.tide" >/dev/null || fail "the anonymized login: $("$TIDE" audit "$W/pwa.tide" | grep FINDING)"
sed -n 9p "$W/enc.jsonl" | "$TIDE" import --raw - -o "$W/cutq.tide" 2>/dev/null
"$TIDE" audit "$W/cutq.tide" | grep -q "FINDING personal_field in query" || fail "the audit does not see a name in cut JSON in a query"
pass "a JSON body cut short (301 cuts), or JSON in a query value cut with the URL: each value still treated by its key; the audit reads them too, and finds passwords and tokens left in"

# same key: same pseudonyms across runs and across files; another key: different
"$TIDE" import --key-file "$W/k1" "$W/all.jsonl" -o "$W/anon2.tide" 2>/dev/null
"$TIDE" cat "$W/anon2.tide" >"$W/anon2.jsonl"
cmp -s "$W/anon.jsonl" "$W/anon2.jsonl" || fail "same key, same input, different output"
"$TIDE" import --key-file "$W/k1" "$W/a.jsonl" -o "$W/a.tide" 2>/dev/null
"$TIDE" import --key-file "$W/k1" "$W/b.jsonl" -o "$W/b.tide" 2>/dev/null
[ "$("$TIDE" cat "$W/a.tide" | jq -r .session | sort -u)" = "$("$TIDE" cat "$W/b.tide" | jq -r .session | sort -u)" ] || fail "session differs across files"
[ "$("$TIDE" cat "$W/a.tide" | jq -r .client | sort -u)" = "$("$TIDE" cat "$W/b.tide" | jq -r .client | sort -u)" ] || fail "clients differ across files"
TIDE_KEY_FILE="$W/k2" "$TIDE" import "$W/all.jsonl" -o "$W/other.tide" 2>/dev/null
[ "$("$TIDE" cat "$W/other.tide" | jq -r .session | sort -u)" != "$(jq -r .session "$W/anon.jsonl" | sort -u)" ] || fail "other key, same pseudonym"
pass "same key: same pseudonyms across runs and files; another key (TIDE_KEY_FILE): different"

# Crypto-PAn keeps prefixes: two addresses in one /24 stay in one /24
printf '%s\n' '{"ts":"2026-11-20T10:00:00Z","method":"GET","path":"/","client":"198.51.100.23"}' \
  '{"ts":"2026-11-20T10:00:01Z","method":"GET","path":"/","client":"198.51.100.77"}' \
  '{"ts":"2026-11-20T10:00:02Z","method":"GET","path":"/","client":"203.0.113.5"}' >"$W/ips.jsonl"
"$TIDE" import --key-file "$W/k1" "$W/ips.jsonl" -o "$W/ips.tide" 2>/dev/null
mapfile -t ips < <("$TIDE" cat "$W/ips.tide" | jq -r .client)
[ "${ips[0]%.*}" = "${ips[1]%.*}" ] && [ "${ips[0]%.*}" != "${ips[2]%.*}" ] && [ "${ips[0]}" != 198.51.100.23 ] || fail "crypto-pan prefixes: ${ips[*]}"
"$TIDE" import --key-file "$W/k1" --ip truncate "$W/ips.jsonl" -o "$W/ipt.tide" 2>/dev/null
[ "$("$TIDE" cat "$W/ipt.tide" | jq -r .client | head -1)" = 198.51.100.0 ] || fail "--ip truncate"
pass "client addresses: prefix-preserving Crypto-PAn, or truncated with --ip truncate"

# the key never enters the trace; its fingerprint does; no key: a warning
grep -q "$(xxd -p -c 64 "$W/k1" | head -c 16)" "$W/anon.tide" && fail "key bytes in the trace"
fp=$("$TIDE" keygen -o "$W/k3" 2>&1 | sed -n 's/.*fingerprint \([0-9a-f]*\).*/\1/p')
"$TIDE" import --key-file "$W/k3" "$W/ips.jsonl" -o "$W/fp.tide" 2>/dev/null
[ "$("$TIDE" inspect --json "$W/fp.tide" | jq -r .metadata.anonymization.key_fingerprint)" = "$fp" ] || fail "fingerprint not in metadata"
"$TIDE" import "$W/ips.jsonl" -o "$W/eph.tide" 2>"$W/err"
grep -q "random key is used for this trace only" "$W/err" || fail "no warning without a key"
[ "$("$TIDE" inspect --json "$W/eph.tide" | jq -r .metadata.anonymization.key_ephemeral)" = true ] || fail "ephemeral not recorded"
pass "the key's fingerprint is in the manifest, never the key; no key: a warning and an ephemeral key"

# a gzip body is decoded, anonymized, and gzipped again
gzb=$(jq -r 'select(.source == "gen:11") | .body' "$W/anon.jsonl" | base64 -d | gzip -dc) || fail "gzip body no longer gzip"
echo "$gzb" | jq -e '(.student_name | startswith("p_")) and (.email | endswith("@example.invalid")) and (.note | test("555-01"))' >/dev/null ||
  fail "gzip body not anonymized: $gzb"
pass "gzip bodies are decoded, anonymized and gzipped again"

# deflate (zlib or raw) and zstd bodies too; a body in an encoding tide does
# not read (br), or that does not decode, is dropped; the audit reads the
# same encodings (it scanned the compressed bytes) and cannot pass one it
# cannot read
python3 - "$W/ce.jsonl" <<'PY'
import base64, gzip, json, subprocess, sys, zlib
body = json.dumps({"student_name": "Maria Lopez", "email": "maria.lopez@gmail.com", "essay": "hi"}).encode()
zs = subprocess.run(["zstd", "-q", "-c"], input=body, capture_output=True, check=True).stdout
encs = [("gzip", gzip.compress(body)), ("deflate", zlib.compress(body)), ("deflate", zlib.compress(body)[2:-4]),
        ("zstd", zs), ("br", b"\x1b\x2a\x00\xf8" + body[:20]), ("gzip", body)]
with open(sys.argv[1], "w") as f:
    for i, (ce, b) in enumerate(encs):
        f.write(json.dumps({"ts": "2026-11-20T10:00:%02dZ" % i, "method": "POST", "path": "/api/e%d" % i,
                            "query": "q=Maria%20Lopez",
                            "headers": [["Content-Type", "application/json"], ["Content-Encoding", ce]],
                            "body": base64.b64encode(b).decode()}) + "\n")
PY
"$TIDE" import --key-file "$W/k1" "$W/ce.jsonl" -o "$W/ce.tide" 2>/dev/null || fail "import of encoded bodies"
"$TIDE" cat "$W/ce.tide" | python3 -c '
import base64, gzip, json, subprocess, sys, zlib
for line in sys.stdin:
    d = json.loads(line)
    ce = [h[1] for h in d["headers"] if h[0] == "Content-Encoding"][0]
    b = base64.b64decode(d.get("body", ""))
    if d["path"] in ("/api/e4", "/api/e5"):
        assert not b, d["path"] + ": kept a body tide cannot read"
        continue
    # the name under the decoded body student_name is known to the whole record
    assert "Maria" not in d["query"], d["path"] + ": the query kept the name of the compressed body"
    dec = {"gzip": gzip.decompress, "deflate": zlib.decompress,
           "zstd": lambda x: subprocess.run(["zstd", "-d", "-q", "-c"], input=x, capture_output=True, check=True).stdout}[ce](b)
    j = json.loads(dec)
    assert j["student_name"].startswith("p_") and j["email"].endswith("@example.invalid") and j["essay"] == "hi", d["path"]
' || fail "deflate/zstd bodies"
"$TIDE" audit "$W/ce.tide" >/dev/null || fail "audit of the anonymized encoded bodies: $("$TIDE" audit "$W/ce.tide" | grep FINDING)"
"$TIDE" import --raw "$W/ce.jsonl" -o "$W/ceraw.tide" 2>/dev/null
"$TIDE" audit "$W/ceraw.tide" >"$W/ce.audit"
grep -q "FINDING email          in body                   x4" "$W/ce.audit" && grep -q "FINDING unreadable_body in body                   x2" "$W/ce.audit" ||
  fail "the audit of encoded raw bodies: $(grep FINDING "$W/ce.audit")"
pass "deflate and zstd bodies are decoded (before anything is looked for: their names are known to the whole record), anonymized and encoded again; br or broken ones dropped; the audit reads them too"

# --time-shift moves every time back by a keyed whole number of weeks
"$TIDE" import --key-file "$W/k1" --time-shift "$W/all.jsonl" -o "$W/shift.tide" 2>/dev/null || fail "time shift"
w=$("$TIDE" inspect --json "$W/shift.tide" | jq .metadata.anonymization.time_shift_weeks)
a=$(jq -r .ts "$W/anon.jsonl" | head -1); b=$("$TIDE" cat "$W/shift.tide" | jq -r .ts | head -1)
d=$(( ($(date -d "$a" +%s) - $(date -d "$b" +%s)) ))
[ "$w" -ge 1 ] && [ "$w" -le 52 ] && [ "$d" -eq $((w * 7 * 86400)) ] || fail "time shift: $w weeks, moved $d s"
[ "$(date -d "$a" +%u%H%M%S)" = "$(date -d "$b" +%u%H%M%S)" ] || fail "weekday or time of day changed"
pass "--time-shift moves times back $w whole weeks, keeping weekday and time of day"

# the manifest counts what was done
"$TIDE" inspect --json "$W/anon.tide" >"$W/i.json"
[ "$(jq -r '.final_metadata.anonymization.counts["header:authorization"]["secret tokenized"]' "$W/i.json")" = 1 ] || fail "manifest counts"
[ "$(jq -r '.final_metadata.anonymization.counts["header:x-student-email"].dropped' "$W/i.json")" = 1 ] || fail "unlisted header not dropped"
[ "$(jq -r '.metadata.raw' "$W/i.json")" = false ] || fail "raw flag"
jq -e '(.final_metadata.anonymization.input_sha256 | length) == 64 and (.final_metadata.anonymization.output_sha256 | length) == 64 and .final_metadata.anonymization.input_sha256 != .final_metadata.anonymization.output_sha256' "$W/i.json" >/dev/null || fail "content hashes"
pass "the manifest records policy, key fingerprint, input and output content hashes, per-field counts"

# content hashes of a larger trace (hashed on a helper thread, 1 MiB at a time):
# the same input gives the same input hash under any key, the same key the
# same output hash, run after run
python3 - "$W/big.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(30000):
        f.write(json.dumps({"ts": "2026-11-20T10:%02d:%02d.%03d000000Z" % (i // 3600 % 60, i // 60 % 60, i % 1000),
                            "method": "GET", "scheme": "https", "host": "learn.example.edu",
                            "path": "/api/students/%d/essays" % (i % 977), "query": "page=%d" % (i % 7),
                            "version": "HTTP/1.1", "headers": [["User-Agent", "Mozilla/5.0 (X11) Firefox/%d.0" % (i % 50)],
                                                                ["Referer", "https://learn.example.edu/essays/%d" % i]],
                            "status": 200, "resp_bytes": i, "duration_ms": i % 300,
                            "client": "198.51.%d.%d" % (i % 200, i % 251), "session": "", "source": "big:%d" % i}) + "\n")
PY
"$TIDE" import --raw "$W/big.jsonl" -o "$W/bigraw.tide" 2>/dev/null || fail "import big"
for run in a b; do
  "$TIDE" anonymize --key-file "$W/k1" "$W/bigraw.tide" -o "$W/big-$run.tide" 2>/dev/null || fail "anonymize big ($run)"
done
"$TIDE" anonymize --key-file "$W/k2" "$W/bigraw.tide" -o "$W/big-c.tide" 2>/dev/null || fail "anonymize big (c)"
h() { "$TIDE" inspect --json "$1" | jq -r ".final_metadata.anonymization.$2"; }
[ "$(h "$W/big-a.tide" input_sha256)" = "$(h "$W/big-b.tide" input_sha256)" ] &&
  [ "$(h "$W/big-a.tide" input_sha256)" = "$(h "$W/big-c.tide" input_sha256)" ] || fail "input hash differs between runs or keys"
[ "$(h "$W/big-a.tide" output_sha256)" = "$(h "$W/big-b.tide" output_sha256)" ] || fail "output hash differs between runs"
[ "$(h "$W/big-a.tide" output_sha256)" != "$(h "$W/big-c.tide" output_sha256)" ] || fail "output hash the same under another key"
[ "$(h "$W/big-a.tide" records)" = 30000 ] || fail "manifest records: $(h "$W/big-a.tide" records)"
pass "content hashes of 30,000 records: one input hash whatever the key, the same output hash run after run"

# audit: FAIL on raw, PASS on anonymized; findings masked
"$TIDE" import --raw "$W/all.jsonl" -o "$W/raw.tide" 2>/dev/null
"$TIDE" audit "$W/raw.tide" >"$W/audit_raw.txt"
[ $? -eq 1 ] || fail "audit of the raw trace did not exit 1"
grep -q "tide audit: FAIL" "$W/audit_raw.txt" && grep -q "FINDING email" "$W/audit_raw.txt" && grep -q "FINDING card" "$W/audit_raw.txt" || fail "raw audit findings: $(cat "$W/audit_raw.txt")"
python3 - "$W" <<'PY' || exit 1
import json, sys
W = sys.argv[1]
pii = json.load(open(W + "/planted.json"))
txt = open(W + "/audit_raw.txt").read()
leak = [k for k, v in pii.items() if len(v) > 4 and v in txt]
if leak:
    print("FAIL - audit output quotes planted values: %s" % leak); sys.exit(1)
PY
"$TIDE" audit "$W/anon.tide" >"$W/audit.txt"
rc=$?
[ $rc -eq 0 ] && grep -q "tide audit: PASS" "$W/audit.txt" || fail "audit of the anonymized trace: rc $rc $(cat "$W/audit.txt")"
"$TIDE" audit --json "$W/anon.tide" | jq -e '.verdict == "PASS" and .scanned.records == 12' >/dev/null || fail "audit --json"
pass "audit FAILs the raw trace (masked samples), PASSes the anonymized one"

# tide anonymize on a raw trace gives what inline anonymization gives
"$TIDE" anonymize --key-file "$W/k1" "$W/raw.tide" -o "$W/later.tide" 2>/dev/null || fail "tide anonymize"
"$TIDE" cat "$W/later.tide" | jq -c 'del(.source)' >"$W/l1"
jq -c 'del(.source)' "$W/anon.jsonl" >"$W/l2"
cmp -s "$W/l1" "$W/l2" || fail "anonymize later differs from inline"
"$TIDE" anonymize --print-default-policy | jq -e '.tide_policy == 1' >/dev/null || fail "default policy"
echo '{"tide_policy":1,"headers":{"kepp":["Host"]}}' >"$W/typo.json"
"$TIDE" anonymize --policy "$W/typo.json" "$W/raw.tide" -o "$W/x.tide" 2>"$W/err"
[ $? -eq 2 ] && grep -q "headers.kepp" "$W/err" || fail "policy typo not refused: $(cat "$W/err")"
pass "tide anonymize equals inline anonymization; policy typos are refused by path"

# a trace anonymized already is refused (its pseudonyms would become
# pseudonyms of them), naming its key; --again does it and keeps the
# former anonymization in the metadata
"$TIDE" anonymize --key-file "$W/k2" "$W/later.tide" -o "$W/twice.tide" 2>"$W/err"
[ $? -eq 2 ] && [ ! -e "$W/twice.tide" ] && grep -q "later.tide is anonymized already (key [0-9a-f]*)" "$W/err" ||
  fail "anonymized trace not refused: $(cat "$W/err")"
"$TIDE" anonymize --again --key-file "$W/k2" "$W/later.tide" -o "$W/twice.tide" 2>"$W/err" || fail "--again: $(cat "$W/err")"
k1=$("$TIDE" inspect --json "$W/later.tide" | jq -r .metadata.anonymization.key_fingerprint)
got=$("$TIDE" inspect --json "$W/twice.tide" | jq -r '[.metadata.anonymized_before[0].key_fingerprint, .metadata.anonymization.key_fingerprint] | join(" ")')
[ "$got" = "$k1 $("$TIDE" inspect --json "$W/big-c.tide" | jq -r .metadata.anonymization.key_fingerprint)" ] ||
  fail "--again: keys in the metadata: $got"
pass "a trace anonymized already is refused unless --again, which keeps the former anonymization on record"

finish
