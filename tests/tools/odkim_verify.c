/* odkim-verify: checks DKIM signatures with libopendkim, an implementation independent of
 * Rampart's signer, against public keys from a file instead of DNS.
 *
 *   odkim-verify --keys KEYFILE [--require N] [--fixcrlf] message.eml [more.eml...]
 *
 * KEYFILE lines: "SELECTOR._domainkey.DOMAIN TXT-DATA" (libopendkim's DKIM_QUERY_FILE format).
 * Prints one line per signature: "FILE d=DOMAIN s=SELECTOR a=ALG pass|fail REASON".
 * Exit status 0 only if every message has at least one signature (exactly N passing ones with
 * --require N) and every signature passes; 1 on verification failures, 2 on usage/IO errors.
 * Messages are read as they are: line ends must be CRLF, as on the wire. --fixcrlf sets
 * DKIM_LIBFLAGS_FIXCRLF, without which libopendkim refuses a relaxed body that does not end in
 * CRLF ("CRLF at end of body missing"); it also turns bare CR and LF into CRLF. */
#include <errno.h>
#include <opendkim/dkim.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char* alg_name(DKIM_SIGINFO* sig) {
    dkim_alg_t alg = DKIM_SIGN_UNKNOWN;
    if (dkim_sig_getsignalg(sig, &alg) != DKIM_STAT_OK) return "unknown";
    switch (alg) {
        case DKIM_SIGN_RSASHA1:
            return "rsa-sha1";
        case DKIM_SIGN_RSASHA256:
            return "rsa-sha256";
        case DKIM_SIGN_ED25519SHA256:
            return "ed25519-sha256";
        default:
            return "unknown";
    }
}

static int read_file(const char* path, unsigned char** data, size_t* len) {
    FILE* f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "odkim-verify: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 65536;
    size_t n = 0;
    unsigned char* buf = malloc(cap);
    if (buf == NULL) {
        fclose(f);
        return -1;
    }
    for (;;) {
        if (n == cap) {
            unsigned char* bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                fclose(f);
                return -1;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (got == 0) break;
        n += got;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "odkim-verify: %s: read error\n", path);
        free(buf);
        return -1;
    }
    *data = buf;
    *len = n;
    return 0;
}

/* Returns 0 if the message passes, 1 if not, 2 on errors. */
static int verify_message(DKIM_LIB* lib, const char* path, int require) {
    unsigned char* data = NULL;
    size_t len = 0;
    if (read_file(path, &data, &len) != 0) return 2;

    DKIM_STAT status = DKIM_STAT_OK;
    DKIM* dkim = dkim_verify(lib, (const unsigned char*)path, NULL, &status);
    if (dkim == NULL) {
        fprintf(stderr, "odkim-verify: dkim_verify(): %s\n", dkim_getresultstr(status));
        free(data);
        return 2;
    }
    status = dkim_chunk(dkim, data, len);
    if (status == DKIM_STAT_OK) status = dkim_chunk(dkim, NULL, 0);
    if (status == DKIM_STAT_OK) status = dkim_eom(dkim, NULL);
    free(data);

    DKIM_SIGINFO** sigs = NULL;
    int nsigs = 0;
    if (dkim_getsiglist(dkim, &sigs, &nsigs) != DKIM_STAT_OK || nsigs == 0) {
        printf("%s - - - fail no signature (%s)\n", path, dkim_getresultstr(status));
        dkim_free(dkim);
        return 1;
    }
    int passed = 0;
    int failed = 0;
    for (int i = 0; i < nsigs; i++) {
        DKIM_SIGINFO* sig = sigs[i];
        unsigned int flags = dkim_sig_getflags(sig);
        if ((flags & DKIM_SIGFLAG_IGNORE) == 0 && (flags & DKIM_SIGFLAG_PROCESSED) == 0) {
            (void)dkim_sig_process(dkim, sig);
            flags = dkim_sig_getflags(sig);
        }
        const char* reason = "ok";
        int ok = 0;
        if ((flags & DKIM_SIGFLAG_IGNORE) != 0) {
            reason = "signature ignored";
        } else if ((flags & DKIM_SIGFLAG_PASSED) == 0) {
            int err = dkim_sig_geterror(sig);
            reason = err != DKIM_SIGERROR_OK ? dkim_sig_geterrorstr(err) : "signature mismatch";
            if (reason == NULL) reason = "unknown error";
        } else if (dkim_sig_getbh(sig) != DKIM_SIGBH_MATCH) {
            reason = "body hash mismatch";
        } else {
            ok = 1;
        }
        const unsigned char* d = dkim_sig_getdomain(sig);
        const unsigned char* s = dkim_sig_getselector(sig);
        printf("%s d=%s s=%s a=%s %s %s\n", path, d != NULL ? (const char*)d : "-", s != NULL ? (const char*)s : "-",
               alg_name(sig), ok ? "pass" : "fail", reason);
        if (ok) {
            passed++;
        } else {
            failed++;
        }
    }
    dkim_free(dkim);
    if (failed > 0) return 1;
    if (require >= 0 && passed != require) {
        printf("%s: %d passing signatures, %d required\n", path, passed, require);
        return 1;
    }
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: odkim-verify --keys KEYFILE [--require N] [--fixcrlf] message.eml...\n");
    exit(2);
}

int main(int argc, char** argv) {
    const char* keys = NULL;
    int require = -1;
    int fixcrlf = 0;
    int first = argc;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--keys") == 0 && i + 1 < argc) {
            keys = argv[++i];
        } else if (strcmp(argv[i], "--require") == 0 && i + 1 < argc) {
            char* end = NULL;
            long n = strtol(argv[++i], &end, 10);
            if (*end != '\0' || n < 0 || n > 1000) usage();
            require = (int)n;
        } else if (strcmp(argv[i], "--fixcrlf") == 0) {
            fixcrlf = 1;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            usage();
        } else {
            first = i;
            break;
        }
    }
    if (keys == NULL || first >= argc) usage();
    FILE* check = fopen(keys, "r");
    if (check == NULL) {
        fprintf(stderr, "odkim-verify: %s: %s\n", keys, strerror(errno));
        return 2;
    }
    fclose(check);

    DKIM_LIB* lib = dkim_init(NULL, NULL);
    if (lib == NULL) {
        fprintf(stderr, "odkim-verify: dkim_init() failed\n");
        return 2;
    }
    unsigned int flags = fixcrlf ? DKIM_LIBFLAGS_FIXCRLF : DKIM_LIBFLAGS_NONE;
    dkim_query_t qtype = DKIM_QUERY_FILE;
    if (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof flags) != DKIM_STAT_OK ||
        dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYMETHOD, &qtype, sizeof qtype) != DKIM_STAT_OK ||
        dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYINFO, (void*)keys, strlen(keys)) != DKIM_STAT_OK) {
        fprintf(stderr, "odkim-verify: cannot set library options\n");
        dkim_close(lib);
        return 2;
    }
    int rc = 0;
    for (int i = first; i < argc; i++) {
        int r = verify_message(lib, argv[i], require);
        if (r > rc) rc = r;
    }
    dkim_close(lib);
    return rc;
}
