#!/usr/bin/env bash
# Anonymizing people's writing: N essay submissions (JSON bodies of about
# 4.5 KB of English, a student id under its key, and in one essay in four a
# name, a street address or a date of birth in the text), imported raw, then
# `tide anonymize` and `tide audit` of the result, against `tide cat` of the
# same trace (the floor: reading it). No peer anonymizer is packaged for
# Debian 12 (Presidio needs pip and a spaCy model), so there is none here.
# Usage: bench/essays.sh [N] (default 20000, about 120 MB of JSON lines)
. "$(dirname "$0")/common.sh"
N=${1:-20000}
python3 - "$N" "$B/essays.jsonl" <<'PY'
import base64, json, random, sys
r = random.Random(1)
words = ("the of and to in is was that for it with as his on be at by had are but from or have an they which one you were "
         "her all she there would their we him been has when who will more no if out so said what up its about into than "
         "them can only other new some could time these two may then do first any my now such like our over man me even most "
         "made after also did many before must through back years where much your way well down should because each just "
         "those people how too little state good very make world still own see men work long get here between both life "
         "being under never day same another know while last might us great old year off come since against go came right "
         "used take three").split()
planted = ["My name is Maria Garcia.", "I live at 4711 N. Oak Ave., Apt 4B, Springfield, IL 62704.",
           "I was born on March 3, 2011.", "Sincerely,\nLiam Nguyen"]
out = []
for i in range(int(sys.argv[1])):
    txt = " ".join(r.choice(words).capitalize() if r.random() < 0.08 else r.choice(words) for _ in range(900)) + "."
    if i % 4 == 0:
        txt += " " + r.choice(planted)
    body = json.dumps({"essay": txt, "student_id": "%d" % r.randint(10**7, 10**8)})
    out.append(json.dumps({"ts": "2025-11-20T12:%02d:%02d.%03dZ" % (i // 60000 % 60, i // 1000 % 60, i % 1000),
                           "method": "POST", "path": "/api/essays", "headers": [["Content-Type", "application/json"]],
                           "body": base64.b64encode(body.encode()).decode(), "status": 201}))
open(sys.argv[2], "w").write("\n".join(out) + "\n")
PY
"$TIDE" import --raw "$B/essays.jsonl" -o "$B/essays-raw.tide" 2>/dev/null
[ -f "$B/essays.key" ] || "$TIDE" keygen -o "$B/essays.key" 2>/dev/null
echo "$N essays, $(stat -c %s "$B/essays.jsonl") B of JSON lines"
measure "tide cat --allow-raw (the floor)" "$TIDE" cat --allow-raw "$B/essays-raw.tide"
measure "tide anonymize" "$TIDE" anonymize --key-file "$B/essays.key" "$B/essays-raw.tide" -o "$B/essays.tide"
measure "tide audit of the result" "$TIDE" audit "$B/essays.tide"
measure "tide audit of the raw trace (finds them)" sh -c "'$TIDE' audit '$B/essays-raw.tide' >/dev/null; [ \$? -eq 1 ]"
