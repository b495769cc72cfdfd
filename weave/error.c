/* error.c — names and messages of the pinned error codes. */
#include "weave.h"

static const struct { int code; const char *name, *msg; } errors[] = {
    {WV_OK, "WV_OK", "success"},
    {WV_E_NOMEM, "WV_E_NOMEM", "out of memory"},
    {WV_E_ARG, "WV_E_ARG", "invalid argument"},
    {WV_E_RANGE, "WV_E_RANGE", "position or length outside the document"},
    {WV_E_UTF8, "WV_E_UTF8", "text is not valid UTF-8"},
    {WV_E_SITE, "WV_E_SITE", "invalid site id (0, or already known to the replica)"},
    {WV_E_LIMIT, "WV_E_LIMIT", "a limit is reached (a clock, site or atom count, or nesting depth)"},
    {WV_E_CORRUPT, "WV_E_CORRUPT", "weave is inconsistent (broken invariant, or weaves that disagree)"},
    {WV_E_MODIFIED, "WV_E_MODIFIED", "the document changed while an iterator was open"},
    {WV_E_CAUSE, "WV_E_CAUSE", "an atom's cause is missing from the replica and the atoms sent"},
    {WV_E_DUPLICATE, "WV_E_DUPLICATE", "an atom id arrives twice, or already held, with different content"},
    {WV_E_CLOCK, "WV_E_CLOCK", "an atom's clock is not above its cause's clock"},
    {WV_E_ATOM, "WV_E_ATOM", "malformed atom (kind, value, site 0, or what it deletes)"},
    {WV_E_BUSY, "WV_E_BUSY", "the site host's log moved past the lock window: read, integrate, retry"},
    {WV_E_TRUNCATED, "WV_E_TRUNCATED", "encoded bytes end early (truncated)"},
    {WV_E_FORMAT, "WV_E_FORMAT", "not weave bytes, or a malformed field"},
    {WV_E_VERSION, "WV_E_VERSION", "unsupported format version"},
    {WV_E_CHECKSUM, "WV_E_CHECKSUM", "checksum mismatch: the bytes are damaged"},
    {WV_E_SIZE, "WV_E_SIZE", "impossible size or count in encoded bytes"},
    {WV_E_BUFFER, "WV_E_BUFFER", "destination buffer too small"},
    {WV_E_TYPE, "WV_E_TYPE", "the value is not of the type the call needs"},
    {WV_E_NOTFOUND, "WV_E_NOTFOUND", "no such container, key, index or path"},
};

const char *wv_error_name(int code) {
    for (size_t i = 0; i < sizeof errors / sizeof *errors; i++)
        if (errors[i].code == code) return errors[i].name;
    return "WV_E_UNKNOWN";
}

const char *wv_error_message(int code) {
    for (size_t i = 0; i < sizeof errors / sizeof *errors; i++)
        if (errors[i].code == code) return errors[i].msg;
    return "unknown error code";
}
