#!/usr/bin/env bash
# A property of anonymization, on generated traffic: 3000 records of made-up
# students (names, emails, phones, SSNs) with values planted at random in the
# query (plain, percent-encoded once or twice, '+', base64), a person-like
# path segment, the Referer, the User-Agent, a JSON body, a JSON body cut
# short, a form body, JSON inside a query value, a cookie, a multipart
# upload, a query key, a JSON member name, a Referer's user, Basic
# credentials, X-Forwarded-For, and an essay's text and a search with the
# student's name (and the essay with a street address, a date of birth and
# a student id) under no key at all. Under a fresh random key each run: no
# planted value (nor a name put under a personal key or in that text) survives in any
# encoding; tide audit PASSes the anonymized trace and FAILs the raw one,
# finding the planted values where they were put.
set -u
TIDE=${1:?usage: anonymize_property.sh TIDE}
. "$(dirname "$0")/lib.sh"
need python3
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
G=$(dirname "$0")/pii_gen.py

for seed in 11 12; do
  python3 "$G" "$seed" 3000 "$W/g.jsonl" || fail "generator"
  rm -f "$W/k"
  "$TIDE" keygen -o "$W/k" 2>/dev/null || fail "keygen"
  "$TIDE" import --key-file "$W/k" "$W/g.jsonl" -o "$W/a.tide" 2>"$W/err" || fail "import: $(cat "$W/err")"
  "$TIDE" cat "$W/a.tide" >"$W/a.jsonl" || fail "cat"
  [ "$(wc -l <"$W/a.jsonl")" -eq 3000 ] || fail "seed $seed: $(wc -l <"$W/a.jsonl") records out of 3000"
  python3 - "$W/g.jsonl.planted" "$W/a.jsonl" <<'PY' || fail "seed $seed: planted values survived"
import base64, json, re, sys, urllib.parse as up
planted = json.load(open(sys.argv[1]))
hay = []
for line in open(sys.argv[2]):
    d = json.loads(line)
    hay.append(line)
    if "body" in d:
        hay.append(base64.b64decode(d["body"]).decode("latin1"))
text = "\n".join(hay)
layers = [text, up.unquote(text), up.unquote(up.unquote(text)), up.unquote_plus(up.unquote_plus(text))]
for m in re.finditer(r"[A-Za-z0-9+/=]{16,}", text):
    try:
        layers.append(base64.b64decode(m.group(0) + "=" * (-len(m.group(0)) % 4)).decode("latin1"))
    except Exception:
        pass
all_ = "\n".join(layers).lower()
# every email, phone and SSN shape in the output, against the planted ones
found = set(re.findall(r"[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]+|\(\d{3}\) \d{3}-\d{4}|\d{3}-\d{2}-\d{4}", all_))
found |= {f[i:] for f in found if "@" in f for i in range(1, f.index("@"))}  # joined to a word before it
want = {v.lower().replace("contact ", "") for v in planted}
bad = sorted(want & found)
# names put under personal keys (name, student_name: also in a JSON body cut short)
bad += [n for n in json.load(open(sys.argv[1].replace(".planted", ".names"))) if n.lower() in all_]
if bad:
    print("FAIL - %d of %d planted values survived, e.g. a value of %d characters" % (len(bad), len(planted), len(bad[0])))
    sys.exit(1)
PY
  "$TIDE" audit "$W/a.tide" >"$W/audit" || fail "seed $seed: audit of the anonymized trace: $(grep FINDING "$W/audit" | head -3)"
  "$TIDE" import --raw "$W/g.jsonl" -o "$W/raw.tide" 2>/dev/null || fail "raw import"
  "$TIDE" audit "$W/raw.tide" >"$W/audit" && fail "seed $seed: the audit passed the raw trace"
  for f in "email          in path" "email          in query" "email          in header:cookie" \
    "personal_field in json body" "personal_field in form body" "ssn            in body" \
    "person_name    in body" "person_name    in query" "street_address in body" "student_id     in body" "date_of_birth  in body"; do
    grep -qF "FINDING $f" "$W/audit" || fail "seed $seed: the audit did not find: $f"
  done
done
pass "generated students, values planted in 16 places and 5 encodings: none survives anonymization (2 seeds x 3000 records, fresh keys); the audit PASSes the anonymized trace and finds them in the raw one"
finish
