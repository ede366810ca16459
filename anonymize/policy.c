/*
 * policy.c - anonymization policies: the strict default and the JSON parser.
 *
 * Default-deny on structure: a header not on the policy's lists is dropped;
 * a query value, cookie, form field or JSON leaf that no rule names is
 * scanned by every detector. Rules match key names case-insensitively with
 * '-' and '_' ignored, so "First-Name", "first_name" and "firstname" are one
 * rule. docs/policy.md is the reference.
 */
#include "anon_int.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

static const char DEFAULT_POLICY[] =
    "{\n"
    "  \"tide_policy\": 1,\n"
    "  \"ip\": \"cryptopan\",\n"
    "  \"headers\": {\n"
    "    \"default\": \"drop\",\n"
    "    \"keep\": [\"Host\", \"Accept\", \"Accept-Encoding\", \"Accept-Language\", \"Cache-Control\",\n"
    "             \"Content-Type\", \"Content-Length\", \"Content-Encoding\", \"If-None-Match\",\n"
    "             \"If-Modified-Since\", \"Pragma\", \"Upgrade-Insecure-Requests\", \"X-Requested-With\",\n"
    "             \"Sec-Fetch-Dest\", \"Sec-Fetch-Mode\", \"Sec-Fetch-Site\", \"Connection\", \"Expect\",\n"
    "             \"Transfer-Encoding\", \"Range\"],\n"
    "    \"scan\": [\"User-Agent\", \"Referer\", \"Origin\"],\n"
    "    \"secret\": [\"Authorization\", \"Proxy-Authorization\", \"X-Api-Key\", \"X-Auth-Token\",\n"
    "               \"X-CSRF-Token\", \"X-XSRF-Token\", \"X-Session-Id\"],\n"
    "    \"ip\": [\"X-Forwarded-For\", \"X-Real-IP\", \"Forwarded\", \"True-Client-IP\", \"CF-Connecting-IP\"],\n"
    "    \"cookies\": [\"Cookie\"]\n"
    "  },\n"
    "  \"cookies\": { \"default\": \"secret\", \"keep\": [\"lang\", \"locale\", \"theme\", \"tz\"] },\n"
    "  \"query\": { \"default\": \"scan\" },\n"
    "  \"form\": { \"default\": \"scan\" },\n"
    "  \"json\": { \"default\": \"scan\" },\n"
    "  \"text\": { \"default\": \"scan\" },\n"
    "  \"fields\": {\n"
    "    \"keep\": [\"page\", \"per_page\", \"limit\", \"offset\", \"sort\", \"order\", \"format\", \"lang\",\n"
    "             \"locale\", \"utm_source\", \"utm_medium\", \"utm_campaign\", \"type\", \"status\", \"grade\",\n"
    "             \"subject\", \"course\", \"version\", \"v\"],\n"
    "    \"drop\": [\"password\", \"passwd\", \"pwd\", \"pass\", \"new_password\", \"old_password\",\n"
    "             \"password_confirmation\", \"pin\", \"cvv\", \"cvc\", \"security_answer\",\n"
    "             \"*password\", \"*passwd\"],\n"
    "    \"secret\": [\"token\", \"access_token\", \"refresh_token\", \"id_token\", \"api_key\", \"apikey\",\n"
    "               \"key\", \"secret\", \"client_secret\", \"session\", \"session_id\", \"sessionid\", \"sid\",\n"
    "               \"jwt\", \"auth\", \"code\", \"otp\", \"state\", \"nonce\", \"signature\", \"sig\",\n"
    "               \"csrf\", \"csrf_token\", \"phpsessid\", \"jsessionid\", \"connect.sid\",\n"
    "               \"SAMLResponse\", \"SAMLRequest\", \"assertion\", \"client_assertion\", \"ticket\",\n"
    "               \"code_verifier\", \"reset_token\", \"invite_token\", \"authenticity_token\", \"xsrf\",\n"
    "               \"oauth_signature\", \"oauth_nonce\", \"oauth_token\"],\n"
    "    \"generalize\": [\"dob\", \"birth_date\", \"birthdate\", \"date_of_birth\", \"birthday\",\n"
    "                   \"*birthdate\", \"*dateofbirth\"],\n"
    "    \"pseudonymize\": [\"name\", \"first_name\", \"firstname\", \"last_name\", \"lastname\",\n"
    "                     \"full_name\", \"fullname\", \"given_name\", \"family_name\", \"middle_name\",\n"
    "                     \"nickname\", \"display_name\", \"username\", \"user_name\", \"login\", \"user\",\n"
    "                     \"email\", \"email_address\", \"mail\", \"phone\", \"phone_number\", \"mobile\",\n"
    "                     \"tel\", \"address\", \"street\", \"address1\", \"address2\", \"city\", \"zip\",\n"
    "                     \"zipcode\", \"postcode\", \"postal_code\", \"student\", \"student_name\",\n"
    "                     \"student_id\", \"studentid\", \"student_number\", \"guardian\", \"guardian_name\",\n"
    "                     \"guardian_email\", \"guardian_phone\", \"parent\", \"parent_name\",\n"
    "                     \"parent_email\", \"teacher\", \"teacher_name\", \"user_id\", \"userid\", \"uid\",\n"
    "                     \"account_id\", \"person_id\", \"ssn\", \"national_id\", \"school_id\",\n"
    "                     \"author\", \"recipient\", \"to\", \"from\", \"cc\", \"ip\", \"ip_address\",\n"
    "                     \"learner\", \"learner_id\", \"pupil\", \"pupil_id\", \"child\", \"child_name\",\n"
    "                     \"emergency_contact\", \"member_id\", \"customer_id\", \"owner\", \"reviewer\",\n"
    "                     \"lis_person_name_given\", \"lis_person_name_family\", \"lis_person_name_full\",\n"
    "                     \"lis_person_contact_email_primary\", \"lis_person_sourcedid\",\n"
    "                     \"lis_result_sourcedid\", \"ext_user_username\", \"surname\", \"forename\",\n"
    "                     \"*firstname\", \"*lastname\", \"*fullname\", \"*middlename\", \"*surname\",\n"
    "                     \"*givenname\", \"*familyname\", \"*preferredname\", \"*legalname\",\n"
    "                     \"*email\", \"*emailaddress\", \"*phone\", \"*phonenumber\",\n"
    "                     \"*streetaddress\", \"*homeaddress\", \"*mailingaddress\"]\n"
    "  },\n"
    "  \"path\": {\n"
    "    \"person_parents\": [\"students\", \"student\", \"users\", \"user\", \"guardians\", \"parents\",\n"
    "                       \"teachers\", \"accounts\", \"profiles\", \"people\", \"persons\", \"members\",\n"
    "                       \"learners\", \"children\", \"u\", \"profile\", \"authors\", \"tutors\",\n"
    "                       \"instructors\", \"counselors\", \"mentors\", \"staff\", \"contacts\"],\n"
    "    \"templates\": []\n"
    "  },\n"
    "  \"body\": { \"max_bytes\": 1048576 }\n"
    "}\n";

const char *tide_anon_default_policy(void) { return DEFAULT_POLICY; }

void tide__norm(const char *s, size_t n, char *out)
{
    size_t i, o = 0;
    for (i = 0; i < n && o < 63; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '-' || c == '_')
            continue;
        out[o++] = (char)tolower(c);
    }
    out[o] = 0;
}

/* The action for a name: the rule that names it whole, else the first
 * "*suffix" rule it ends with (guardianFirstName: *firstname). */
static int lookup(const struct tide_strmap *m, const struct tide__rule *sfx, size_t n_sfx, const char *s,
                  size_t len)
{
    char k[64];
    struct tide_strmap_ent *e;
    size_t kl, i;
    tide__norm(s, len, k);
    e = tide_strmap_get(m, tide_str_c(k));
    if (e)
        return (int)e->value;
    kl = strlen(k);
    for (i = 0; i < n_sfx; i++) {
        size_t sl = strlen(sfx[i].name + 1);
        if (kl >= sl && memcmp(k + kl - sl, sfx[i].name + 1, sl) == 0)
            return sfx[i].act;
    }
    return ACT_NONE;
}

int tide__policy_field(const struct tide_anon_policy *p, const char *s, size_t n)
{
    return lookup(&p->field_map, p->field_sfx, p->n_field_sfx, s, n);
}

int tide__policy_header(const struct tide_anon_policy *p, const char *s, size_t n)
{
    int a = lookup(&p->header_map, p->header_sfx, p->n_header_sfx, s, n);
    return a ? a : p->header_default;
}

/* Rules into a map, and the "*suffix" ones apart, in order; the first rule
 * for a name wins, as a linear scan would. */
static int build_map(struct tide_strmap *m, const struct tide__rule *r, size_t n, struct tide__rule **sfx,
                     size_t *n_sfx)
{
    size_t i;
    tide_strmap_init(m, 0);
    *sfx = calloc(n + 1, sizeof(**sfx));
    if (!*sfx)
        return TIDE_E_NOMEM;
    for (i = 0; i < n; i++) {
        bool added;
        int rc;
        struct tide_strmap_ent *e;
        if (r[i].name[0] == '*') {
            (*sfx)[(*n_sfx)++] = r[i];
            continue;
        }
        e = tide_strmap_upsert(m, tide_str_c(r[i].name), &added, &rc);
        if (!e)
            return rc;
        if (added)
            e->value = (uint64_t)r[i].act;
    }
    return 0;
}

static const struct {
    const char *name;
    int act;
} ACTS[] = {{"keep", ACT_KEEP},           {"drop", ACT_DROP},
            {"redact", ACT_REDACT},       {"pseudonymize", ACT_PSEUDONYMIZE},
            {"secret", ACT_SECRET},       {"truncate", ACT_TRUNCATE},
            {"generalize", ACT_GENERALIZE}, {"scan", ACT_SCAN},
            {"ip", ACT_IP},               {"cookies", ACT_COOKIES}};

static int act_of(const char *s)
{
    size_t i;
    for (i = 0; i < sizeof(ACTS) / sizeof(ACTS[0]); i++)
        if (strcmp(ACTS[i].name, s) == 0)
            return ACTS[i].act;
    return ACT_NONE;
}

/* Adds rules from an object {"action": [names]} (and "default"). */
static int add_rules(cJSON *obj, const char *where, struct tide__rule **rules, size_t *n,
                     int *dflt, const char *name, struct tide_err *err)
{
    cJSON *e;
    if (!cJSON_IsObject(obj))
        return tide_err_set(err, TIDE_E_FORMAT, name, "%s: not an object of {\"action\": [names]}", where);
    cJSON_ArrayForEach(e, obj)
    {
        int act;
        cJSON *x;
        if (strcmp(e->string, "default") == 0) {
            if (!dflt || !cJSON_IsString(e) || !(act = act_of(e->valuestring)))
                return tide_err_set(err, TIDE_E_FORMAT, name, "%s.default: not a known action here", where);
            *dflt = act;
            continue;
        }
        act = act_of(e->string);
        if (!act || !cJSON_IsArray(e))
            return tide_err_set(err, TIDE_E_FORMAT, name,
                                "%s.%s: unknown action or not a list (keep, drop, redact, "
                                "pseudonymize, secret, truncate, generalize, scan, ip, cookies)",
                                where, e->string);
        cJSON_ArrayForEach(x, e)
        {
            struct tide__rule *nr;
            if (!cJSON_IsString(x))
                return tide_err_set(err, TIDE_E_FORMAT, name, "%s.%s: names must be strings", where, e->string);
            nr = realloc(*rules, (*n + 1) * sizeof(**rules));
            if (!nr)
                return tide_err_set(err, TIDE_E_NOMEM, name, "out of memory");
            *rules = nr;
            tide__norm(x->valuestring, strlen(x->valuestring), nr[*n].name);
            nr[*n].act = act;
            (*n)++;
            if (nr[*n - 1].name[0] == '*' && (!nr[*n - 1].name[1] || strchr(nr[*n - 1].name + 1, '*')))
                return tide_err_set(err, TIDE_E_FORMAT, name,
                                    "%s.%s: \"%s\": a pattern is '*' and the end of a name (\"*email\"), once",
                                    where, e->string, x->valuestring);
        }
    }
    return 0;
}

static int section_default(cJSON *root, const char *key, int *out, const char *name,
                           struct tide_err *err)
{
    cJSON *o = cJSON_GetObjectItemCaseSensitive(root, key), *e;
    if (!o)
        return 0;
    if (!cJSON_IsObject(o))
        return tide_err_set(err, TIDE_E_FORMAT, name, "%s: not an object of {\"default\": ACTION}", key);
    cJSON_ArrayForEach(e, o)
    {
        int act;
        if (strcmp(e->string, "default") != 0 || !cJSON_IsString(e) || !(act = act_of(e->valuestring)))
            return tide_err_set(err, TIDE_E_FORMAT, name, "%s.%s: only \"default\": ACTION is allowed here",
                                key, e->string);
        *out = act;
    }
    return 0;
}

int tide_anon_policy_parse(struct tide_anon_policy **out, const char *text, size_t len,
                           const char *name, struct tide_err *err)
{
    struct tide_anon_policy *p;
    cJSON *root, *e;
    uint8_t d[32];
    int rc = 0, i;
    static const char *KNOWN[] = {"tide_policy", "ip", "headers", "cookies", "query", "form",
                                  "json", "text", "fields", "path", "body", "comment"};
    *out = NULL;
    root = cJSON_ParseWithLength(text, len);
    if (!root || !cJSON_IsObject(root)) {
        const char *at = cJSON_GetErrorPtr();
        cJSON_Delete(root);
        return tide_err_set(err, TIDE_E_FORMAT, name, "not a JSON object (error near byte %ld)",
                            at && at >= text && at <= text + len ? (long)(at - text) : -1L);
    }
    p = calloc(1, sizeof(*p));
    if (!p) {
        cJSON_Delete(root);
        return tide_err_set(err, TIDE_E_NOMEM, name, "out of memory");
    }
    p->text = strndup(text, len);
    SHA256((const uint8_t *)text, len, d);
    for (i = 0; i < 32; i++)
        snprintf(p->sha256 + 2 * i, 3, "%02x", d[i]);
    p->header_default = ACT_DROP;
    p->query_default = p->form_default = p->json_default = p->text_default = ACT_SCAN;
    p->cookie_default = ACT_SECRET;
    p->max_body = 1 << 20;
    cJSON_ArrayForEach(e, root)
    {
        bool ok = false;
        size_t k;
        for (k = 0; k < sizeof(KNOWN) / sizeof(KNOWN[0]); k++)
            ok = ok || strcmp(e->string, KNOWN[k]) == 0;
        if (!ok) {
            rc = tide_err_set(err, TIDE_E_FORMAT, name, "unknown key '%s' at the top level", e->string);
            goto out_fail;
        }
    }
    e = cJSON_GetObjectItemCaseSensitive(root, "tide_policy");
    if (!cJSON_IsNumber(e) || e->valueint != 1) {
        rc = tide_err_set(err, TIDE_E_FORMAT, name, "\"tide_policy\": 1 is required");
        goto out_fail;
    }
    e = cJSON_GetObjectItemCaseSensitive(root, "ip");
    if (e) {
        if (cJSON_IsString(e) && strcmp(e->valuestring, "cryptopan") == 0)
            p->ip_mode = TIDE_IP_CRYPTOPAN;
        else if (cJSON_IsString(e) && strcmp(e->valuestring, "truncate") == 0)
            p->ip_mode = TIDE_IP_TRUNCATE;
        else {
            rc = tide_err_set(err, TIDE_E_FORMAT, name, "ip: \"cryptopan\" or \"truncate\"");
            goto out_fail;
        }
    }
    if ((e = cJSON_GetObjectItemCaseSensitive(root, "headers")) &&
        (rc = add_rules(e, "headers", &p->headers, &p->n_headers, &p->header_default, name, err)))
        goto out_fail;
    if ((e = cJSON_GetObjectItemCaseSensitive(root, "fields")) &&
        (rc = add_rules(e, "fields", &p->fields, &p->n_fields, NULL, name, err)))
        goto out_fail;
    /* cookie names share the field rules; only their default is separate */
    if ((e = cJSON_GetObjectItemCaseSensitive(root, "cookies")) &&
        (rc = add_rules(e, "cookies", &p->fields, &p->n_fields, &p->cookie_default, name, err)))
        goto out_fail;
    if ((rc = section_default(root, "query", &p->query_default, name, err)) ||
        (rc = section_default(root, "form", &p->form_default, name, err)) ||
        (rc = section_default(root, "json", &p->json_default, name, err)) ||
        (rc = section_default(root, "text", &p->text_default, name, err)))
        goto out_fail;
    if ((e = cJSON_GetObjectItemCaseSensitive(root, "path"))) {
        cJSON *par = cJSON_GetObjectItemCaseSensitive(e, "person_parents"), *x;
        cJSON *tm = cJSON_GetObjectItemCaseSensitive(e, "templates");
        p->parents = calloc((size_t)cJSON_GetArraySize(par) + 1, sizeof(*p->parents));
        p->paths = calloc((size_t)cJSON_GetArraySize(tm) + 1, sizeof(*p->paths));
        if (!p->parents || !p->paths) {
            rc = tide_err_set(err, TIDE_E_NOMEM, name, "out of memory");
            goto out_fail;
        }
        cJSON_ArrayForEach(x, par) if (cJSON_IsString(x)) tide__norm(x->valuestring, strlen(x->valuestring), p->parents[p->n_parents++]);
        cJSON_ArrayForEach(x, tm) if (cJSON_IsString(x)) snprintf(p->paths[p->n_paths++].tmpl, 256, "%s", x->valuestring);
    }
    if ((e = cJSON_GetObjectItemCaseSensitive(root, "body"))) {
        cJSON *mb = cJSON_GetObjectItemCaseSensitive(e, "max_bytes");
        if (cJSON_IsNumber(mb) && mb->valuedouble > 0 && mb->valuedouble <= (double)(1ull << 40))
            p->max_body = (size_t)mb->valuedouble;
        else if (mb) {
            rc = tide_err_set(err, TIDE_E_FORMAT, name, "body.max_bytes: not a size from 1 byte to 1 TiB");
            goto out_fail;
        }
    }
    cJSON_Delete(root);
    if (build_map(&p->field_map, p->fields, p->n_fields, &p->field_sfx, &p->n_field_sfx) ||
        build_map(&p->header_map, p->headers, p->n_headers, &p->header_sfx, &p->n_header_sfx)) {
        tide_anon_policy_free(p);
        return tide_err_set(err, TIDE_E_NOMEM, name, "out of memory");
    }
    tide_strmap_init(&p->parent_map, 0);
    for (size_t k = 0; k < p->n_parents; k++) {
        bool added;
        int rc2;
        struct tide_strmap_ent *pe = tide_strmap_upsert(&p->parent_map, tide_str_c(p->parents[k]), &added, &rc2);
        if (pe)
            pe->value = 1;
    }
    *out = p;
    return 0;

out_fail:
    cJSON_Delete(root);
    tide_anon_policy_free(p);
    return rc;
}

void tide_anon_policy_free(struct tide_anon_policy *p)
{
    if (!p)
        return;
    free(p->text);
    free(p->headers);
    free(p->fields);
    free(p->parents);
    free(p->paths);
    free(p->field_sfx);
    free(p->header_sfx);
    tide_strmap_free(&p->field_map);
    tide_strmap_free(&p->header_map);
    tide_strmap_free(&p->parent_map);
    free(p);
}
