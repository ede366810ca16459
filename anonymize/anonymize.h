/*
 * anonymize.h - the public face of anonymize/: policies, keyed pseudonyms,
 * the record-to-record anonymizing transform, and the audit scanner.
 *
 * The transform sits between a producer (capture, a trace reader) and a
 * consumer (the trace writer): raw values never reach disk. Pseudonyms are
 * HMAC-SHA256 under a 32-byte key and keep the value's shape (an email stays
 * an email, digits stay digits), so the same value maps to the same
 * pseudonym everywhere under one key and replay still parses it.
 */
#ifndef TIDE_ANONYMIZE_H
#define TIDE_ANONYMIZE_H

#include "formats/trace.h"

#define TIDE_KEY_LEN 32

/* ---- keys ------------------------------------------------------------------------ */

/* Fills key with TIDE_KEY_LEN random bytes (getrandom). 0 or TIDE_E_IO. */
int tide_key_random(uint8_t key[TIDE_KEY_LEN], struct tide_err *err);
/* Reads a key file (exactly TIDE_KEY_LEN bytes, or 64 hex characters). */
int tide_key_load(const char *path, uint8_t key[TIDE_KEY_LEN], struct tide_err *err);
/* Writes a new random key to path with mode 0600; refuses to overwrite. */
int tide_key_generate(const char *path, struct tide_err *err);
/* The key's fingerprint: 16 hex chars of SHA-256("tide key fingerprint" || key). */
void tide_key_fingerprint(const uint8_t key[TIDE_KEY_LEN], char out[17]);

/* ---- policies ---------------------------------------------------------------------- */

struct tide_anon_policy;

/* The strict default policy as JSON text (borrowed, static). */
const char *tide_anon_default_policy(void);
/*
 * Parses a policy (JSON text, borrowed; name is used in errors). Unknown keys
 * and actions are refused with their JSON path, so a typo cannot quietly
 * weaken a policy.
 */
int tide_anon_policy_parse(struct tide_anon_policy **out, const char *text, size_t len,
                           const char *name, struct tide_err *err);
void tide_anon_policy_free(struct tide_anon_policy *p);

/* ---- the transform ------------------------------------------------------------------ */

enum tide_ip_mode { TIDE_IP_CRYPTOPAN = 0, TIDE_IP_TRUNCATE = 1 };

struct tide_anon_opts {
    uint8_t key[TIDE_KEY_LEN];
    bool key_is_ephemeral; /* random key for this run only (said in the manifest) */
    int ip_mode;           /* enum tide_ip_mode; overrides the policy's when >= 0 */
    bool time_shift;       /* move times back by a keyed whole number of weeks */
};

struct tide_anon;

/* Creates a transform (policy borrowed, must outlive it). */
int tide_anon_create(struct tide_anon **out, const struct tide_anon_policy *p,
                     const struct tide_anon_opts *o, struct tide_err *err);
/*
 * Anonymizes in into *out. out's strings live in the transform's arena and
 * are valid until the next call. Errors name the record's source and the
 * field, never a value.
 */
int tide_anon_record(struct tide_anon *a, const struct tide_record *in, struct tide_record *out,
                     struct tide_err *err);
/* A sink that anonymizes and passes the result on to next. */
void tide_anon_set_next(struct tide_anon *a, struct tide_sink next);
int tide_anon_sink(void *userp, const struct tide_record *r, struct tide_err *err);
/*
 * The anonymization manifest as a JSON object text (caller owns, free()):
 * policy text and SHA-256, key fingerprint, whether the key was ephemeral,
 * tool version, IP mode, time shift, and per field and action the counts of
 * values changed, dropped, or kept unchanged by the allowlist.
 */
char *tide_anon_manifest(const struct tide_anon *a);
uint64_t tide_anon_records(const struct tide_anon *a);
void tide_anon_free(struct tide_anon *a);

/* ---- detectors and audit ---------------------------------------------------------------- */

enum tide_pii_kind {
    TIDE_PII_EMAIL,
    TIDE_PII_PHONE,
    TIDE_PII_SSN,
    TIDE_PII_CARD,
    TIDE_PII_IPV4,
    TIDE_PII_IPV6,
    TIDE_PII_JWT,
    TIDE_PII_BEARER,
    TIDE_PII_APIKEY,
    TIDE_PII_DOB,
    TIDE_PII_NAME,       /* a value under a personal key (name, student, ...) */
    TIDE_PII_HIGH_ENTROPY,
    TIDE_PII_SECRET_FIELD, /* a value under a key dropped (password) or tokenized (token) */
    TIDE_PII_UNREADABLE,   /* a body in an encoding that cannot be read (br): nothing can be said of it */
    TIDE_PII_PERSON_NAME,  /* a person's name in free text ("Jane Doe", "my name is ...") */
    TIDE_PII_STREET_ADDRESS, /* a street address in free text ("123 Main Street", "P.O. Box 12") */
    TIDE_PII_STUDENT_ID,   /* an id after "student id" in free text */
    TIDE_PII_KINDS
};
const char *tide_pii_kind_name(int kind);

/* A detector hit: [start, start+len) of the scanned text. */
struct tide_pii_hit {
    int kind;
    size_t start, len;
};
typedef void (*tide_pii_fn)(void *userp, const struct tide_pii_hit *hit, const char *text);

/*
 * Runs every detector over text (after decoding percent-encoding, base64 and
 * JSON layers where they apply) and reports each hit. Values already in
 * tide's pseudonym forms are not reported. Used by the anonymizer's scanner
 * and by the audit.
 */
void tide_pii_scan(const char *text, size_t len, tide_pii_fn fn, void *userp);
/* The same, for people's writing (a body, a query): people's names in it too. */
void tide_pii_scan_text(const char *text, size_t len, tide_pii_fn fn, void *userp);

/* The audit: feed every record, then ask for the report. */
struct tide_audit;
int tide_audit_create(struct tide_audit **out, bool ips_anonymized);
/* Whether the trace's manifest says client addresses were anonymized (then
 * addresses found are reported as residual risk, not findings). */
void tide_audit_set_ips_anonymized(struct tide_audit *au, bool yes);
/* Scans one record; p (borrowed) names the personal keys. */
void tide_audit_record(struct tide_audit *au, const struct tide_anon_policy *p,
                       const struct tide_record *r);
/* The report as JSON text (caller frees): verdict, findings by type and
 * field with record numbers and masked samples, what was scanned, residual risk. */
char *tide_audit_report(const struct tide_audit *au, bool any_raw, const char *scanned_note);
void tide_audit_free(struct tide_audit *au);

#endif
