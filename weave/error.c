/* error.c — names and messages of the pinned error codes. */
#include "weave.h"

static const struct { int code; const char *name, *msg; } errors[] = {
    {WV_OK, "WV_OK", "success"},
    {WV_E_NOMEM, "WV_E_NOMEM", "out of memory"},
    {WV_E_ARG, "WV_E_ARG", "invalid argument"},
    {WV_E_RANGE, "WV_E_RANGE", "position or length outside the document"},
    {WV_E_UTF8, "WV_E_UTF8", "text is not valid UTF-8"},
    {WV_E_SITE, "WV_E_SITE", "invalid site id (0, or already known to the replica)"},
    {WV_E_LIMIT, "WV_E_LIMIT", "a clock, site or atom counter would overflow"},
    {WV_E_CORRUPT, "WV_E_CORRUPT", "weave is inconsistent (broken invariant, or weaves that disagree)"},
    {WV_E_MODIFIED, "WV_E_MODIFIED", "the document changed while an iterator was open"},
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
