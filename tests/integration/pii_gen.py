"""Synthetic student records with personal data planted at random places in
random encodings (see anonymize_property.sh). Usage: pii_gen.py SEED N OUT.jsonl;
writes OUT.jsonl and OUT.jsonl.planted (the planted values, JSON)."""
import json, base64, random, sys, urllib.parse as up, gzip
rnd = random.Random(int(sys.argv[1]))
N = int(sys.argv[2])
first = ["Maria","Jose","Aisha","Liam","Sofia","Noah","Chen","Fatima","Olivia","Mateo"]
last = ["Garcia","Nguyen","Okafor","Smith","Rossi","Kowalski","Haddad","Johansson","Tanaka","Silva"]
def person():
    f, l = rnd.choice(first), rnd.choice(last)
    n = rnd.randint(1, 99)
    return {"name": f + " " + l, "email": "%s.%s%d@%s" % (f.lower(), l.lower(), n, rnd.choice(["gmail.com","school.edu","outlook.com","k12.ny.us"])),
            "phone": "(%d) %d-%04d" % (rnd.randint(201, 989), rnd.randint(200, 989), rnd.randint(0, 9999)),
            "ssn": "%03d-%02d-%04d" % (rnd.randint(1, 665), rnd.randint(1, 99), rnd.randint(1, 9999)),
            "sid": str(rnd.randint(10000000, 99999999))}
def enc(s):
    k = rnd.randint(0, 4)
    if k == 0: return s
    if k == 1: return up.quote(s)
    if k == 2: return up.quote(up.quote(s))
    if k == 3: return up.quote_plus(s)
    return base64.b64encode(s.encode()).decode()
planted = set()
names = set()
out = []
for i in range(N):
    p = person()
    planted.update([p["email"], p["ssn"], p["phone"]])
    where = rnd.randint(0, 15)
    q, path, headers, body, ctype = "page=%d" % rnd.randint(1, 9), "/api/essays", [["Host", "learn.example.edu"]], None, None
    v = rnd.choice([p["email"], p["phone"], p["ssn"], "contact " + p["email"], p["email"].upper()])
    planted.add(v)
    if where == 0: q += "&q=" + enc(v)
    elif where == 1: path = "/students/%s/essays" % up.quote(p["email"])
    elif where == 2: headers.append(["Referer", "https://learn.example.edu/p?email=%s#x" % up.quote(v)])
    elif where == 3: headers.append(["User-Agent", "Mozilla/5.0 (X11) contact " + v])
    elif where == 4: body, ctype = json.dumps({"student": {"name": p["name"], "email": p["email"]}, "essay": "I am %s, reach me at %s" % (p["name"], v)}), "application/json"
    elif where == 5: body, ctype = "name=%s&email=%s&note=%s" % (up.quote_plus(p["name"]), up.quote(p["email"]), up.quote_plus(v)), "application/x-www-form-urlencoded"
    elif where == 6:
        b = json.dumps({"student_name": p["name"], "contact": v, "essay": "x" * rnd.randint(0, 50)})
        body, ctype = b[:rnd.randint(len(b) // 2, len(b))], "application/json"
    elif where == 7: q += "&f=" + up.quote(json.dumps({"email": p["email"], "phone": p["phone"]}))
    elif where == 8: headers.append(["Cookie", "sid=abc%d; prefs=%s" % (i, up.quote(json.dumps({"email": p["email"]})))])
    elif where == 10: q += "&" + up.quote(p["email"]) + "=1"  # an email as a query key
    elif where == 11: body, ctype = json.dumps({"grades": {p["email"]: rnd.randint(50, 100)}}), "application/json"
    elif where == 12: headers.append(["Referer", "https://%s:pw%d@mail.example.com/inbox" % (up.quote(p["email"]), i)])
    elif where == 13: headers.append(["Authorization", "Basic " + base64.b64encode(("%s:pw%d" % (p["email"], i)).encode()).decode()])
    elif where == 15:  # a name in the essay's text alone, under no key
        t = rnd.choice(["%s wrote this essay.", "My name is %s and I like math.", "Feedback for %s: good work",
                        "Sincerely,\n%s", "Doe, Jane and %s, period 3", "Ask %s (grade 7) about it."]) % p["name"]
        addr = "%d %s %s" % (rnd.randint(1, 9999), rnd.choice(["Oak", "Maple", "West 42nd", "N. Elm", "Lincoln"]),
                             rnd.choice(["Street", "Ave", "Rd", "Lane", "Blvd"]))
        t += rnd.choice([" I live at %s.", " Mail: %s, Apt 2, Springfield, IL 62704", " (%s)"]) % addr
        t += rnd.choice(["", " Write to %s." % p["email"]])  # an email before a full stop
        names.add(addr)
        if rnd.random() < 0.5:  # a date of birth with its month's name, a student id, after the words that say so
            dob = "%s %d, %d" % (rnd.choice(["March", "April", "October", "Dec."]), rnd.randint(2, 28), rnd.randint(2008, 2016))
            sid = "S-%d" % rnd.randint(1000000, 9999999)
            t += rnd.choice([" I was born on %s. My student ID is %s.", " (birthday %s, student #%s)"]) % (dob, sid)
            names.update([dob, sid])
        body, ctype = t, rnd.choice(["text/plain", None])
        q += "&q=" + up.quote_plus("essays by " + p["name"])
    elif where == 14: headers.append(["X-Forwarded-For", "%d.%d.%d.%d, 10.0.0.1" % (rnd.randint(1, 223), rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(1, 254))])
    else:
        B = "----b%d" % i
        body = "--%s\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n%s\r\n--%s\r\nContent-Disposition: form-data; name=\"essay\"\r\n\r\nby %s\r\n--%s--\r\n" % (B, p["email"], B, v, B)
        ctype = "multipart/form-data; boundary=" + B
    if where in (4, 5, 6, 15):
        names.add(p["name"])  # under a personal key (name, student_name)
    if ctype: headers.append(["Content-Type", ctype])
    r = {"ts": "2026-11-20T10:%02d:%02d.%03dZ" % (i // 3600 % 60, i // 60 % 60, i % 1000), "method": "POST" if body else "GET",
         "path": path, "query": q, "headers": headers, "client": "198.51.%d.%d" % (i % 250, i % 253), "source": "g:%d" % i}
    if body is not None: r["body"] = base64.b64encode(body.encode()).decode()
    out.append(json.dumps(r))
open(sys.argv[3], "w").write("\n".join(out) + "\n")
json.dump(sorted(planted), open(sys.argv[3] + ".planted", "w"))
json.dump(sorted(names), open(sys.argv[3] + ".names", "w"))
