/*
 * freetext.c - people's names and street addresses in free text (an essay, a
 * comment, a search, a prompt), where no key says "name" or "address": the
 * anonymizer replaces them and the audit finds them, by the same rules. They
 * run on bodies and query values only, never paths or headers, where a
 * capitalized word is a product or a route.
 *
 * A name is:
 *  - a common given name, capitalized, followed by one or two capitalized
 *    words or an initial ("Jane Doe", "Maria Garcia Lopez", "John F. Kennedy");
 *  - "Doe, Jane": a capitalized word, a comma and a given name;
 *  - in a file's name, words joined by '_' as by spaces ("Jane_Doe_Essay.docx",
 *    "Doe_Jane_Essay.docx");
 *  - one or two capitalized words after "my name is", "my name's", "I'm
 *    called", "dear", or a sign-off ("Sincerely,", "Regards,", "Thanks,",
 *    "Love,", "Best,"), whatever the given name;
 *  - the surname after a title (Mr, Mrs, Ms, Miss, Dr, Prof, with or without
 *    a dot), the title kept.
 * The given names are about 650 common in US schools across origins; names
 * that are also ordinary words (Grace, Will, Hope, May, Jordan, ...) are left
 * out, so "Will Power" stays. A name written all in lower case, or a given
 * name alone, is not recognized (docs/policy.md says so).
 *
 * A street address is a house number, up to four words and a street word
 * ("123 Main Street", "12B W. 42nd St, Apt 4, Springfield, IL 62704"), or a
 * post office box.
 *
 * After a word that says what follows: a date of birth written with a
 * month's name ("born on March 3, 2011"; numeric ones are found in every
 * field by detect.c), a student id ("my student ID is 48213907") and a bare
 * phone number ("call 6172345678").
 */
#include "anon_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ASCII case-insensitive compare of n bytes of s with w (lower case): a
 * loop the compiler inlines; strncasecmp's locale lookups cost a third of
 * an essay's scan */
static inline int cmp_ci(const char *s, const char *w, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char a = (unsigned char)s[i], b = (unsigned char)w[i];
        if (a >= 'A' && a <= 'Z')
            a = (unsigned char)(a + 32);
        if (a != b)
            return (int)a - (int)b;
        if (!b)
            return 0;
    }
    return 0;
}

static inline bool eq_ci(const char *s, const char *w, size_t n)
{
    return cmp_ci(s, w, n) == 0;
}

static const char *const GIVEN[] = {
    "aaliyah", "aarav", "aaron", "abby", "abdul", "abdullah", "abel", "abigail", "abraham", "adam",
    "addison", "adelaide", "adeline", "aditi", "aditya", "adrian", "adriana", "adrianna", "ahmad",
    "ahmed", "aidan", "aiden", "aisha", "alan", "alana", "alejandra", "alejandro", "alex", "alexa",
    "alexander", "alexandra", "alexandria", "alexis", "alfonso", "alfred", "alfredo", "ali",
    "alice", "alicia", "alina", "alisha", "alison", "allison", "alma", "alondra", "alvin", "alyssa",
    "amanda", "amani", "amara", "amelia", "amina", "amir", "amy", "ana", "ananya", "anastasia",
    "anderson", "andre", "andrea", "andres", "andrew", "andy", "angela", "angelica", "angelina",
    "angie", "anh", "anika", "anita", "anjali", "ann", "anna", "annabelle", "anne", "annie",
    "anthony", "antonio", "anya", "arjun", "armando", "arnav", "arthur", "arturo", "aryan", "asher",
    "ashley", "ashton", "aubrey", "audrey", "ava", "avery", "axel", "ayden", "ayesha", "barbara",
    "beatrice", "beatriz", "becky", "ben", "benjamin", "bernard", "beth", "bethany", "betty",
    "beverly", "bianca", "blake", "bobby", "bonnie", "brad", "bradley", "brandon", "brenda",
    "brendan", "brian", "briana", "brianna", "bridget", "brittany", "brooke", "bruce", "bryan",
    "bryce", "caden", "caitlin", "caleb", "calvin", "cameron", "camila", "camille", "candace",
    "carl", "carla", "carlos", "carmen", "carol", "caroline", "carrie", "carson", "casey",
    "cassandra", "catherine", "cecilia", "cesar", "chad", "charlene", "charles", "charlie",
    "charlotte", "chelsea", "chen", "cheryl", "chloe", "chris", "christina", "christine",
    "christopher", "cindy", "claire", "clara", "clarence", "claudia", "clayton", "cody", "colin",
    "colton", "connor", "conor", "cora", "courtney", "craig", "cristian", "cynthia", "dale",
    "damian", "damon", "dana", "daniel", "daniela", "danielle", "danny", "darius", "darnell",
    "darren", "dashawn", "david", "deborah", "debra", "declan", "deepak", "deepika", "deja",
    "delilah", "denise", "dennis", "derek", "deshawn", "desmond", "devin", "devon", "diana",
    "diane", "diego", "dimitri", "divya", "dmitri", "dominic", "donald", "donna", "dorothy",
    "douglas", "dylan", "ebony", "eddie", "edgar", "eduardo", "edward", "edwin", "eileen", "elena",
    "eli", "elias", "elijah", "elisa", "elizabeth", "ella", "ellen", "ellie", "elliot", "elliott",
    "emanuel", "emilia", "emiliano", "emily", "emma", "emmanuel", "enrique", "eric", "erica",
    "erik", "erika", "erin", "ernesto", "esmeralda", "esther", "ethan", "eugene", "eva", "evan",
    "evelyn", "ezekiel", "ezra", "fatima", "felipe", "felix", "fernando", "fiona", "francesca",
    "francisco", "franklin", "gabriel", "gabriela", "gabriella", "gabrielle", "garrett", "gavin",
    "george", "gerald", "gerardo", "gianna", "gilbert", "gina", "giovanni", "giselle", "gloria",
    "gonzalo", "graham", "gregory", "greta", "guadalupe", "gustavo", "hailey", "haley", "hamza",
    "hank", "hannah", "hao", "harold", "harrison", "harry", "haruto", "hassan", "hayden", "hector",
    "heidi", "helen", "henry", "hiroshi", "hui", "hussein", "hyun", "ian", "ibrahim", "imani",
    "irene", "isaac", "isabel", "isabella", "isabelle", "isaiah", "ivan", "jacob", "jacqueline",
    "jada", "jaden", "jaime", "jalen", "jamal", "james", "jamie", "jane", "janet", "janice",
    "jared", "jasmine", "jason", "javier", "jayden", "jaylen", "jeffrey", "jenna", "jennifer",
    "jeremiah", "jeremy", "jerome", "jesse", "jessica", "ji", "jia", "jillian", "jimena", "jimmy",
    "jin", "joan", "joanna", "jocelyn", "joel", "johanna", "john", "johnny", "jonah", "jonathan",
    "jorge", "jose", "josef", "joseph", "josephine", "joshua", "josiah", "joyce", "juan", "juanita",
    "judith", "judy", "julia", "julian", "juliana", "julie", "julio", "jun", "justin", "kai",
    "kaitlyn", "karen", "karina", "karla", "kate", "katelyn", "katherine", "kathleen", "kathryn",
    "katie", "kavya", "kayla", "kaylee", "keisha", "keith", "kelly", "kelvin", "kendall",
    "kendrick", "kenji", "kenneth", "kevin", "khadija", "khalid", "kiana", "kiara", "kimberly",
    "krishna", "kristen", "kristin", "krystal", "kyle", "kylie", "lakisha", "lakshmi", "landon",
    "latisha", "latoya", "laura", "lauren", "layla", "leah", "leila", "leo", "leon", "leonardo",
    "leslie", "levi", "liam", "lillian", "linda", "lindsay", "lindsey", "ling", "linh", "lisa",
    "logan", "lorena", "lorenzo", "louis", "lucas", "lucia", "luciana", "lucy", "luis", "luka",
    "luke", "lydia", "mackenzie", "madeline", "madison", "makayla", "malik", "manuel", "marcus",
    "margaret", "maria", "mariah", "mariana", "marie", "marisol", "marissa", "marlon", "marquis",
    "martha", "martin", "martina", "marvin", "mary", "mateo", "matthew", "maya", "meera", "megan",
    "mehmet", "melanie", "melissa", "melvin", "mia", "micah", "michael", "michelle", "miguel",
    "mikayla", "ming", "minh", "miranda", "miriam", "mohamed", "mohammad", "mohammed", "molly",
    "monica", "monique", "muhammad", "nadia", "naomi", "natalia", "natalie", "natasha", "nathan",
    "nathaniel", "nayeli", "neha", "nevaeh", "nguyen", "nicholas", "nicole", "nikhil", "nina",
    "noah", "noelle", "nora", "norma", "olga", "olivia", "omar", "oscar", "owen", "pablo", "pamela",
    "paola", "patricia", "patrick", "paul", "paula", "pedro", "penelope", "peter", "philip",
    "phillip", "pooja", "preston", "priscilla", "priya", "quentin", "quinn", "rachel", "rafael",
    "rahul", "rajesh", "ramon", "randy", "raquel", "raul", "ravi", "rebecca", "reginald", "renee",
    "ricardo", "richard", "riley", "rita", "robert", "roberto", "robin", "rodrigo", "roger",
    "rohan", "roman", "ronald", "rosa", "rosalind", "russell", "ryan", "sabrina", "sadie", "sakura",
    "samantha", "samir", "samuel", "sandra", "sanjay", "santiago", "sara", "sarah", "scarlett",
    "sean", "sebastian", "selena", "seo", "serena", "sergei", "sergio", "seth", "shane", "shanice",
    "shannon", "sharon", "shawn", "sheila", "shirley", "shreya", "simon", "skylar", "sofia",
    "sonia", "sophia", "sophie", "stacy", "stella", "stephanie", "stephen", "steven", "sunita",
    "susan", "sylvia", "takumi", "tamara", "tanisha", "tanya", "tara", "tatiana", "teresa",
    "terrell", "terrence", "thanh", "theodore", "thomas", "tiffany", "timothy", "tina", "tomas",
    "tommy", "tracy", "travis", "trayvon", "trevor", "tristan", "tyler", "tyrese", "tyrone",
    "valentina", "valeria", "vanessa", "veronica", "vicente", "victoria", "vihaan", "vikram",
    "vincent", "vivek", "vivian", "walter", "wanda", "wayne", "wei", "wendy", "wesley", "william",
    "wyatt", "xavier", "ximena", "xin", "yan", "yasmin", "yolanda", "yuki", "yusuf", "zachary",
    "zainab", "zara", "zoe", "zoey",
};

/* capitalized words that follow a given name or a cue without being a
 * name (places, titles); sorted */
static const char *const NOT_SURNAME[] = {
    "academy", "and", "avenue", "award", "boulevard", "but", "center", "centre", "church", "city",
    "college", "county", "diary", "dr", "drive", "elementary", "foundation", "hall", "high", "hospital",
    "institute", "is", "lane", "library", "madam", "middle", "miss", "mr", "mrs", "ms", "or", "park",
    "prize", "prof", "road", "school", "sir", "street", "the", "university", "was",
};

static int cmp_word(const void *k, const void *e)
{
    const struct tide_str *w = k;
    const char *s = *(const char *const *)e;
    int c = cmp_ci(w->p, s, w->len);
    if (c)
        return c;
    return s[w->len] ? -1 : 0;
}

bool tide__word_listed(const char *const *list, size_t n, const char *s, size_t len)
{
    struct tide_str w = tide_str_make(s, len);
    if (len == 0 || len > 15)
        return false;
    return bsearch(&w, list, n, sizeof(*list), cmp_word) != NULL;
}

/* s with the accents of Latin-1 letters (UTF-8 C3 xx) taken off, into out
 * (at least n bytes): "José" is looked up as "Jose", "María" as "Maria".
 * Returns the length. */
static size_t unaccent(const char *s, size_t n, char *out)
{
    /* the letter for C3 80..BF (A-grave .. y-diaeresis); 0: none */
    static const char BASE[64] = "AAAAAAACEEEEIIII" "DNOOOOO\0OUUUUY\0s" "aaaaaaaceeeeiiii" "dnooooo\0ouuuuy\0y";
    size_t i, o = 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0xc3 && i + 1 < n && ((unsigned char)s[i + 1] & 0xc0) == 0x80 && BASE[(unsigned char)s[i + 1] - 0x80]) {
            out[o++] = BASE[(unsigned char)s[i + 1] - 0x80];
            i++;
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

bool tide__given_name(const char *s, size_t n)
{
    char folded[16];
    if (n > sizeof(folded))
        return false;
    if (memchr(s, 0xc3, n))
        n = unaccent(s, n, folded), s = folded;
    return tide__word_listed(GIVEN, sizeof(GIVEN) / sizeof(GIVEN[0]), s, n);
}

static bool upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool alnum(char c)
{
    return digit(c) || (c >= 'a' && c <= 'z') || upper(c);
}

static bool letter(char c)
{
    return (c >= 'a' && c <= 'z') || upper(c) || (unsigned char)c >= 0x80;
}

/* Length of the capitalized word at s[i] ("Doe", "O'Brien", "Garcia-Lopez",
 * "Núñez"), or 0: an upper-case letter, then letters with a lower-case one
 * among them (not an acronym), joined by ' or -, and not run into digits,
 * '_', '@' or '/' (an id, an address, a path). */
static size_t cap_word(const char *s, size_t n, size_t i)
{
    size_t j = i + 1;
    bool lower = false;
    if (i >= n || !upper(s[i]) || (i > 0 && (letter(s[i - 1]) || digit(s[i - 1]))))
        return 0;
    while (j < n) {
        if (letter(s[j])) {
            lower |= !upper(s[j]);
            j++;
        } else if ((s[j] == '\'' || s[j] == '-') && j + 1 < n && letter(s[j + 1])) {
            j++;
        } else {
            break;
        }
    }
    if (!lower || j - i < 2)
        return 0;
    if (j < n && (digit(s[j]) || s[j] == '@' || s[j] == '/' || (s[j] == '_' && (j + 1 == n || !letter(s[j + 1])))))
        return 0; /* "Jane_Doe_Essay.docx" joins words as a file's name does; "Jane_2" is an id */
    return j - i;
}

/* A surname at s[i]: a capitalized word that is not a place or a title's
 * word; 0 otherwise. */
static size_t surname(const char *s, size_t n, size_t i)
{
    size_t k = cap_word(s, n, i);
    if (k && tide__word_listed(NOT_SURNAME, sizeof(NOT_SURNAME) / sizeof(NOT_SURNAME[0]), s + i, k))
        return 0;
    return k;
}

/* The name words from i, the first of length first: up to max_more more
 * surnames, each after a single space, or an initial and a surname ("John
 * F. Kennedy"). The length of the span. */
static size_t name_run(const char *s, size_t n, size_t i, size_t first, int max_more)
{
    size_t end = i + first, k;
    int more = 0;
    while (more < max_more && end + 1 < n && (s[end] == ' ' || s[end] == '_')) {
        if ((k = surname(s, n, end + 1)) > 0) {
            end += 1 + k;
            more++;
        } else if (more == 0 && end + 4 < n && upper(s[end + 1]) && s[end + 2] == '.' && s[end + 3] == ' ' &&
                   (k = surname(s, n, end + 4)) > 0) {
            end += 4 + k;
            more += 2;
        } else {
            break;
        }
    }
    return end - i;
}

/* a word or phrase with its length, for lists compared often */
struct word {
    const char *w;
    size_t n;
};
#define W(x) {x, sizeof(x) - 1}

static bool word_before(const char *s, size_t i, const struct word *w)
{
    /* the last byte first (a space, a line break): most words fail there */
    return i >= w->n && s[i - 1] == w->w[w->n - 1] && eq_ci(s + i - w->n, w->w, w->n) &&
           (i == w->n || !letter(s[i - w->n - 1]));
}

/* Whether the words before i (ending in one space, or ", " / ",\n") are a cue
 * that a name follows. */
static bool cue_before(const char *s, size_t i)
{
    static const struct word CUE[] = {W("my name is "), W("my name's "), W("i'm called "), W("i am called "),
                                      W("dear "),       W("sincerely, "), W("regards, "),  W("thanks, "),
                                      W("love, "),      W("best, "),      W("sincerely,\n"), W("regards,\n"),
                                      W("thanks,\n"),   W("love,\n"),     W("best,\n")};
    size_t k;
    if (i == 0 || (s[i - 1] != ' ' && s[i - 1] != '\n'))
        return false;
    for (k = 0; k < sizeof(CUE) / sizeof(CUE[0]); k++)
        if (word_before(s, i, &CUE[k]))
            return true;
    return false;
}

static bool title_before(const char *s, size_t i)
{
    static const struct word T[] = {W("mr. "), W("mrs. "), W("ms. "),   W("dr. "), W("prof. "), W("mr "),
                                    W("mrs "), W("ms "),   W("miss "), W("dr "), W("prof ")};
    size_t k;
    if (i < 3 || s[i - 1] != ' ')
        return false;
    for (k = 0; k < sizeof(T) / sizeof(T[0]); k++)
        if (word_before(s, i, &T[k]) && upper(s[i - T[k].n]))
            return true;
    return false;
}

size_t tide__detect_names(const char *s, size_t n, struct tide_pii_hit *hits, size_t cap)
{
    size_t i = 0, nh = 0;
    if (!memchr(s, ' ', n) && !memchr(s, '\n', n) && !memchr(s, '_', n))
        return 0; /* every rule needs a space, a sign-off's line break or a file name's '_' */
    while (i < n && nh < cap) {
        size_t w = cap_word(s, n, i), len = 0;
        if (!w) {
            i++;
            continue;
        }
        if (title_before(s, i) || cue_before(s, i)) {
            if (!tide__word_listed(NOT_SURNAME, sizeof(NOT_SURNAME) / sizeof(NOT_SURNAME[0]), s + i, w))
                len = name_run(s, n, i, w, 1);
        } else if (tide__given_name(s + i, w)) {
            len = name_run(s, n, i, w, 2);
            if (len == w)
                len = 0; /* a given name alone */
        } else if (i + w + 1 < n && (s[i + w] == ',' || s[i + w] == '_') &&
                   !tide__word_listed(NOT_SURNAME, sizeof(NOT_SURNAME) / sizeof(NOT_SURNAME[0]), s + i, w)) {
            size_t at = i + w + 1 + (s[i + w] == ',' && s[i + w + 1] == ' '), g;
            if ((s[i + w] == '_' || at == i + w + 2) && (g = cap_word(s, n, at)) > 0 && tide__given_name(s + at, g))
                len = at + g - i; /* Doe, Jane; Doe_Jane_Essay.docx */
        }
        if (len) {
            hits[nh++] = (struct tide_pii_hit){TIDE_PII_PERSON_NAME, i, len};
            i += len;
        } else {
            i += w;
        }
    }
    return nh;
}

/* Adds x (sorted by start) to hits (sorted, nh of cap), by start, leaving
 * out those that overlap a hit. Returns the new count. */
static size_t merge_hits(struct tide_pii_hit *hits, size_t nh, size_t cap, const struct tide_pii_hit *x, size_t nx)
{
    struct tide_pii_hit all[2 * TIDE__MAX_HITS];
    size_t a = 0, b = 0, out = 0;
    while ((a < nh || b < nx) && out < 2 * TIDE__MAX_HITS) {
        if (b == nx || (a < nh && hits[a].start <= x[b].start)) {
            all[out++] = hits[a++];
        } else {
            bool overlap = (out && all[out - 1].start + all[out - 1].len > x[b].start) ||
                           (a < nh && x[b].start + x[b].len > hits[a].start);
            if (!overlap)
                all[out++] = x[b];
            b++;
        }
    }
    if (out > cap)
        out = cap;
    memcpy(hits, all, out * sizeof(*hits));
    return out;
}

static size_t detect_addresses(const char *s, size_t n, struct tide_pii_hit *hits, size_t cap);
static size_t detect_cued(const char *s, size_t n, struct tide_pii_hit *hits, size_t cap);

size_t tide__detect_text(const char *s, size_t n, struct tide_pii_hit *hits, size_t cap)
{
    struct tide_pii_hit x[TIDE__MAX_HITS];
    size_t nh = tide__detect(s, n, hits, cap), nx;
    if (cap > TIDE__MAX_HITS)
        cap = TIDE__MAX_HITS;
    /* addresses first: "4711 Jane Doe Lane" is a street, not a name */
    if ((nx = detect_addresses(s, n, x, cap)) > 0)
        nh = merge_hits(hits, nh, cap, x, nx);
    if ((nx = detect_cued(s, n, x, cap)) > 0)
        nh = merge_hits(hits, nh, cap, x, nx);
    if ((nx = tide__detect_names(s, n, x, cap)) > 0)
        nh = merge_hits(hits, nh, cap, x, nx);
    return nh;
}

/* ---- street addresses ---- */

/* street words that end an address; unambiguous ones only ("Court", "Place"
 * and "Way" end too many other phrases: "the 1954 Supreme Court"); sorted */
static const char *const STREET[] = {
    "ave", "avenue", "blvd", "boulevard", "crescent", "drive", "highway", "hwy", "lane", "ln",
    "parkway", "pkwy", "rd", "road", "st", "street", "terrace", "trail",
};

/* words that may stand after an address's street: a unit */
static const char *const UNIT[] = {"apartment", "apt", "ste", "suite", "unit"};

static bool is_street(const char *s, size_t n)
{
    return tide__word_listed(STREET, sizeof(STREET) / sizeof(STREET[0]), s, n);
}

static size_t digits_at(const char *s, size_t n, size_t i)
{
    size_t j = i;
    while (j < n && digit(s[j]))
        j++;
    return j - i;
}

/* "42nd", "1st", "3rd", "5th": the length, or 0. */
static size_t ordinal(const char *s, size_t n, size_t i)
{
    size_t d = digits_at(s, n, i);
    if (!d || d > 3 || i + d + 2 > n)
        return 0;
    if (strncmp(s + i + d, "st", 2) && strncmp(s + i + d, "nd", 2) && strncmp(s + i + d, "rd", 2) &&
        strncmp(s + i + d, "th", 2))
        return 0;
    return i + d + 2 < n && letter(s[i + d + 2]) ? 0 : d + 2;
}

/* After a street: ", Apt 4B", " Suite 200", " #12"; then ", Springfield, IL
 * 62704" (a city is taken only with its state). Returns the new end. */
static size_t address_tail(const char *s, size_t n, size_t end)
{
    size_t j = end, k, c, w;
    /* a unit */
    k = j + (j < n && s[j] == ',');
    if (k < n && s[k] == ' ') {
        size_t u = cap_word(s, n, k + 1), v;
        if (u && tide__word_listed(UNIT, sizeof(UNIT) / sizeof(UNIT[0]), s + k + 1, u)) {
            v = k + 1 + u + (k + 1 + u < n && s[k + 1 + u] == '.');
            if (v < n && s[v] == ' ') {
                size_t a = v + 1;
                while (a < n && (alnum(s[a]) || s[a] == '-'))
                    a++;
                if (a > v + 1)
                    j = end = a;
            }
        } else if (k + 2 < n && s[k + 1] == '#' && alnum(s[k + 2])) {
            size_t a = k + 2;
            while (a < n && alnum(s[a]))
                a++;
            j = end = a;
        }
    }
    /* ", City[ Words], ST[ 12345[-6789]]" */
    if (j + 2 < n && s[j] == ',' && s[j + 1] == ' ') {
        c = j + 2;
        for (w = 0; w < 3 && (k = cap_word(s, n, c)) > 0; w++) {
            c += k;
            if (c + 1 < n && s[c] == ' ' && cap_word(s, n, c + 1))
                c++;
            else
                break;
        }
        if (w < 3 && c > j + 2 && c + 4 <= n && (s[c] == ',' || s[c] == ' ')) {
            size_t st = c + 1 + (s[c] == ',' && c + 1 < n && s[c + 1] == ' ');
            if (st + 2 <= n && upper(s[st]) && upper(s[st + 1]) && (st + 2 == n || !letter(s[st + 2]))) {
                end = st + 2;
                if (end + 6 <= n && s[end] == ' ' && digits_at(s, n, end + 1) == 5) {
                    end += 6;
                    if (end + 5 <= n && s[end] == '-' && digits_at(s, n, end + 1) == 4)
                        end += 5;
                }
            }
        }
    }
    return end;
}

/* A street address at s[i], a word's start: a house number (1-6 digits, maybe
 * a letter), one to four words (capitalized, an ordinal, or a direction
 * N/S/E/W, maybe with a dot), and a street word ("123 Main Street", "4711 N.
 * Oak Ave.", "12B West 42nd St"), then its unit and its city, state and ZIP if
 * written; or "P.O. Box 123". The length, or 0. */
static size_t street_address(const char *s, size_t n, size_t i)
{
    size_t j = i, d, words = 0, k;
    if (i > 0 && (alnum(s[i - 1]) || s[i - 1] == '.' || s[i - 1] == '-' || s[i - 1] == '/'))
        return 0;
    if ((n - i >= 9 && strncmp(s + i, "P.O. Box ", 9) == 0) || (n - i >= 7 && strncmp(s + i, "PO Box ", 7) == 0)) {
        j = i + (s[i + 1] == '.' ? 9 : 7);
        d = digits_at(s, n, j);
        return d && (j + d == n || !alnum(s[j + d])) ? j + d - i : 0;
    }
    d = digits_at(s, n, i);
    if (!d || d > 6 || s[i] == '0')
        return 0;
    j = i + d;
    if (j < n && upper(s[j]))
        j++; /* 12B */
    for (;;) {
        if (j + 1 >= n || s[j] != ' ')
            return 0;
        j++;
        if ((k = cap_word(s, n, j)) > 0) {
            if (words > 0 && is_street(s + j, k)) {
                j += k;
                if (j < n && s[j] == '.' && k <= 4 && !eq_ci(s + j - k, "lane", 4) &&
                    !eq_ci(s + j - k, "road", 4))
                    j++; /* an abbreviation's dot ("Ave.", "St."), not a sentence's after "Street" */
                return address_tail(s, n, j) - i;
            }
            if (k == 3 && eq_ci(s + j, "the", 3))
                return 0; /* "chapter 3 The Road" */
        } else if ((k = ordinal(s, n, j)) == 0) {
            if ((s[j] != 'N' && s[j] != 'S' && s[j] != 'E' && s[j] != 'W') || (j + 1 < n && letter(s[j + 1])))
                return 0;
            k = 1 + (j + 1 < n && s[j + 1] == '.'); /* N, S., ... */
        }
        if (++words > 4)
            return 0;
        j += k;
    }
}

static size_t detect_addresses(const char *s, size_t n, struct tide_pii_hit *hits, size_t cap)
{
    size_t i = 0, nh = 0, len;
    if (!memchr(s, ' ', n))
        return 0;
    while (i < n && nh < cap) {
        if ((digit(s[i]) || s[i] == 'P') && (len = street_address(s, n, i)) > 0) {
            hits[nh++] = (struct tide_pii_hit){TIDE_PII_STREET_ADDRESS, i, len};
            i += len;
        } else {
            i++;
        }
    }
    return nh;
}

/* ---- values after a cue: dates of birth with a month's name, student ids, phone numbers ---- */

static const struct word MONTHS[] = {W("january"), W("february"), W("march"),     W("april"),
                                     W("may"),     W("june"),     W("july"),      W("august"),
                                     W("september"), W("october"), W("november"), W("december")};

/* The month named at s[i] (whole, or its first three letters, maybe with a
 * dot): 1-12, its length in *len; or 0. */
static int month_at(const char *s, size_t n, size_t i, size_t *len)
{
    int m;
    char c;
    if (i >= n)
        return 0;
    c = (char)(s[i] | 0x20);
    if (c != 'j' && c != 'f' && c != 'm' && c != 'a' && c != 's' && c != 'o' && c != 'n' && c != 'd')
        return 0; /* no month starts so */
    for (m = 0; m < 12; m++) {
        size_t l = MONTHS[m].n;
        if (MONTHS[m].w[0] != c)
            continue;
        if (n - i >= l && eq_ci(s + i, MONTHS[m].w, l) && (i + l == n || !letter(s[i + l]))) {
            *len = l;
            return m + 1;
        }
        if (n - i >= 3 && eq_ci(s + i, MONTHS[m].w, 3) && (i + 3 == n || !letter(s[i + 3]))) {
            *len = 3 + (i + 3 < n && s[i + 3] == '.');
            return m + 1;
        }
    }
    return 0;
}

/* A day of the month at s[i] (1-31, maybe "st", "nd", "rd", "th"): its
 * length, the day in *day; or 0. */
static size_t day_at(const char *s, size_t n, size_t i, int *day)
{
    size_t d = digits_at(s, n, i), l;
    if (d == 0 || d > 2)
        return 0;
    *day = d == 1 ? s[i] - '0' : (s[i] - '0') * 10 + s[i + 1] - '0';
    if (*day < 1 || *day > 31)
        return 0;
    l = d;
    if (i + l + 2 <= n && (eq_ci(s + i + l, "st", 2) || eq_ci(s + i + l, "nd", 2) ||
                           eq_ci(s + i + l, "rd", 2) || eq_ci(s + i + l, "th", 2)))
        l += 2;
    return i + l < n && alnum(s[i + l]) ? 0 : l;
}

/* A year from 1900 to 2099 at s[i], standing alone. */
static bool year_at(const char *s, size_t n, size_t i)
{
    return digits_at(s, n, i) == 4 && (strncmp(s + i, "19", 2) == 0 || strncmp(s + i, "20", 2) == 0);
}

/* ", " or " " at s[i]: its length, or 0. */
static size_t sep_at(const char *s, size_t n, size_t i)
{
    if (i + 1 < n && s[i] == ',' && s[i + 1] == ' ')
        return 2;
    return i < n && s[i] == ' ' ? 1 : 0;
}

/* A date with a month's name at s[i]: "March 3, 2011", "Mar. 3rd 2011",
 * "3 March 2011", "3rd of March, 2011". Its length, or 0; *jan1 when it
 * is the 1st of January (tide's own generalized form). */
static size_t month_date(const char *s, size_t n, size_t i, bool *jan1)
{
    size_t l, k, j;
    int m, day;
    if (letter(s[i])) {
        /* a month's name only before a day: "March 3", "Mar. 3rd" (most
         * words are cut here, before any name is compared) */
        size_t w = 0;
        while (i + w < n && letter(s[i + w]))
            w++;
        k = i + w + (i + w < n && s[i + w] == '.');
        if (w < 3 || w > 9 || !(l = sep_at(s, n, k)) || k + l >= n || !digit(s[k + l]) || !(m = month_at(s, n, i, &l)))
            return 0;
        j = i + l;
        if (!(k = sep_at(s, n, j)) || !(l = day_at(s, n, j + k, &day)))
            return 0;
        j += k + l;
    } else if ((l = day_at(s, n, i, &day)) > 0) {
        j = i + l;
        if (j >= n || s[j] != ' ')
            return 0;
        j++;
        if (n - j >= 3 && eq_ci(s + j, "of ", 3))
            j += 3;
        if (!(m = month_at(s, n, j, &l)))
            return 0;
        j += l;
    } else {
        return 0;
    }
    if (!(k = sep_at(s, n, j)) || !year_at(s, n, j + k))
        return 0;
    *jan1 = m == 1 && day == 1;
    return j + k + 4 - i;
}

/* Whether one of the words appears, as a word's start, in the 24 bytes before i. */
static bool cue_within(const char *s, size_t i, const char *const *w, size_t nw)
{
    size_t back = i > 24 ? i - 24 : 0, k, c;
    for (k = back; k < i; k++) {
        if (k > 0 && letter(s[k - 1]))
            continue;
        for (c = 0; c < nw; c++)
            if (i - k >= strlen(w[c]) && eq_ci(s + k, w[c], strlen(w[c])))
                return true;
    }
    return false;
}

/* An id at s[i]: letters, digits and '-', 4 to 24 of them with 3 digits or
 * more, standing alone ("48213907", "S-1234567"). Its length, or 0. */
static size_t id_at(const char *s, size_t n, size_t i)
{
    size_t j = i, dg = 0;
    while (j < n && (alnum(s[j]) || s[j] == '-') && j - i <= 24)
        dg += digit(s[j++]) != 0;
    if (j - i < 4 || j - i > 24 || dg < 3 || s[j - 1] == '-')
        return 0;
    if (j < n && (s[j] == '_' || s[j] == '@' || letter(s[j])))
        return 0;
    return j - i;
}

/* After "student id" and the like: the id ("my student ID is 48213907",
 * "Student ID: S-1234567", "student #4471"). Its start in *at and length, or 0. */
static size_t student_id(const char *s, size_t n, size_t i, size_t *at)
{
    static const char *const CUE[] = {"student id", "student number", "student no", "student #",
                                      "learner id", "pupil id",       "id number",  "id no",
                                      "id#",        "student id#"};
    size_t c, j, l;
    char f = (char)tolower((unsigned char)s[i]);
    if (f != 's' && f != 'l' && f != 'p' && f != 'i')
        return 0; /* no cue starts so */
    for (c = 0; c < sizeof(CUE) / sizeof(CUE[0]); c++) {
        l = strlen(CUE[c]);
        if (CUE[c][0] != f)
            continue;
        if (n - i < l || !eq_ci(s + i, CUE[c], l))
            continue;
        j = i + l;
        if (j < n && letter(s[j]) && letter(s[j - 1]))
            continue; /* "student idea" */
        while (j < n && (s[j] == ' ' || s[j] == ':' || s[j] == '#' || s[j] == '.'))
            j++;
        if (n - j >= 3 && eq_ci(s + j, "is ", 3))
            j += 3;
        if (n - j >= 1 && s[j] == '#')
            j++;
        if ((l = id_at(s, n, j)) > 0 && !tide__is_pseudonym(s + j, l)) {
            *at = j;
            return l;
        }
    }
    return 0;
}

/* A bare phone number (ten digits, or eleven starting with 1) at i after a
 * word that says so: "call 6172345678", "my cell is 16172345678". */
static size_t cued_phone(const char *s, size_t n, size_t i)
{
    static const char *const CUE[] = {"call", "text", "phone", "cell", "mobile", "tel", "whatsapp", "sms"};
    size_t d = digits_at(s, n, i);
    if (!(d == 10 || (d == 11 && s[i] == '1')) || (i + d < n && letter(s[i + d])))
        return 0;
    return cue_within(s, i, CUE, sizeof(CUE) / sizeof(CUE[0])) ? d : 0;
}

static size_t detect_cued(const char *s, size_t n, struct tide_pii_hit *hits, size_t cap)
{
    static const char *const BIRTH[] = {"born", "birth", "dob", "b."};
    size_t i = 0, nh = 0, len, at;
    bool jan1;
    while (i < n && nh < cap) {
        if (!alnum(s[i]) || (i > 0 && (alnum(s[i - 1]) || s[i - 1] == '_'))) {
            i++;
            continue; /* every rule starts at a word's start */
        }
        if ((len = month_date(s, n, i, &jan1)) > 0 && !jan1 && cue_within(s, i, BIRTH, sizeof(BIRTH) / sizeof(BIRTH[0]))) {
            hits[nh++] = (struct tide_pii_hit){TIDE_PII_DOB, i, len};
            i += len;
        } else if ((len = student_id(s, n, i, &at)) > 0) {
            hits[nh++] = (struct tide_pii_hit){TIDE_PII_STUDENT_ID, at, len};
            i = at + len;
        } else if ((len = cued_phone(s, n, i)) > 0 && !tide__is_fictional(TIDE_PII_PHONE, s + i, len)) {
            hits[nh++] = (struct tide_pii_hit){TIDE_PII_PHONE, i, len};
            i += len;
        } else {
            while (++i < n && alnum(s[i]))
                ; /* on to the word's end */
        }
    }
    return nh;
}

/* ---- "key: value" and "key=value" written in text ---- */

/*
 * Pairs written inside free text: a GraphQL query's arguments (lastName:
 * "Smith"), a support message's "password: hunter2", a log line pasted into
 * a body (user_id=4711 email=...). Each pair is handed out with its key, for
 * the caller to judge by the policy's rule for that key, as a JSON key's
 * value is: after ':' a quoted value to its closing quote, else to the
 * line's end or a ',', ';', '&', ')' or '}' (a trailing full stop left
 * out), and pairs inside it are handed out too (overlapping it); after
 * '=' a value to the next space (name="..." is markup's attribute, not a
 * pair).
 */
void tide__text_pairs(const char *s, size_t n, tide__kv_fn fn, void *u)
{
    size_t i = 0;
    while (i < n) {
        size_t ks, kl, j, vs, ve, p, e;
        char sep, q;
        /* the next ':' or '=', then the key before it (most text has few) */
        for (p = i; p < n && s[p] != ':' && s[p] != '='; p++)
            ;
        if (p >= n)
            return;
        for (e = p; e > i && s[e - 1] == ' '; e--)
            ;
        for (ks = e; ks > i && (alnum(s[ks - 1]) || s[ks - 1] == '_' || s[ks - 1] == '-') && e - ks <= 40; ks--)
            ;
        kl = e - ks;
        j = p;
        i = p + 1;
        if (kl == 0 || kl > 40 || !((alnum(s[ks]) && !digit(s[ks])) || s[ks] == '_') ||
            (ks > 0 && (alnum(s[ks - 1]) || s[ks - 1] == '_' || s[ks - 1] == '-' || (unsigned char)s[ks - 1] >= 0x80)) ||
            (s[j] == ':' && j + 1 < n && s[j + 1] == '/'))
            continue; /* not a pair; a URL's scheme is no key */
        sep = s[j++];
        while (j < n && s[j] == ' ' && sep == ':')
            j++;
        if (j >= n)
            return;
        if (s[j] == '"' || s[j] == '\'') {
            if (sep == '=') {
                i = j; /* name="email": an HTML or XML attribute, markup's, not a pair */
                continue;
            }
            q = s[j++];
            vs = j;
            while (j < n && s[j] != q)
                j += s[j] == '\\' ? 2 : 1;
            ve = j < n ? j : n;
            i = ve < n ? ve + 1 : n;
        } else {
            vs = j;
            if (sep == '=')
                while (j < n && s[j] != ' ' && s[j] != '\n' && s[j] != '\r' && s[j] != '&' && s[j] != ',' && s[j] != ';')
                    j++;
            else
                while (j < n && s[j] != '\n' && s[j] != '\r' && s[j] != ',' && s[j] != ';' && s[j] != '&' &&
                       s[j] != ')' && s[j] != '}')
                    j++;
            ve = j;
            while (ve > vs && (s[ve - 1] == ' ' || s[ve - 1] == '.'))
                ve--;
            /* after ':' the value may hold pairs of its own ("log: user_id=4711 ...") */
            i = sep == ':' ? vs : j;
        }
        if (ve > vs)
            fn(u, s + ks, kl, vs, ve - vs);
    }
}
