/* weave.c — the weave command-line program: dispatches to subcommands. */
#include <string.h>
#include "cli.h"

static const char usage[] =
    "usage: weave COMMAND ...\n"
    "  script FILE                  run a scenario script (see README)\n"
    "  replay TRACE [--print]       replay an editing trace (.json or .json.gz)\n"
    "  demo [--sites K] [--edits N] [--seed S]\n"
    "                               K sites edit offline, then merge and converge\n"
    "  fuzz [--seeds N] [--sites K] [--ops M] [--first-seed S] [--repro-dir DIR]\n"
    "                               convergence fuzzing: peer to peer vs site host vs oracle\n"
    "  host SUBCOMMAND DB ...       the durable site host in SQLite (weave host --help)\n"
    "  serve [--db FILE] [--port P] [--bind ADDR] [--doc NAME]\n"
    "                               the collaborative demo: site panels in a browser\n"
    "document files (FILE: a replica, as wv_encode writes it; every write is atomic):\n";

static int print_usage(FILE *f, int status) {
    fputs(usage, f);
    cli_files_usage(f);
    return status;
}

int main(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "script")) return cli_script(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "replay")) return cli_replay(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "demo")) return cli_demo(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "fuzz")) return cli_fuzz(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "host")) return cli_host(argc - 2, argv + 2);
#ifdef WV_WITH_SERVE
    if (argc >= 2 && !strcmp(argv[1], "serve")) return cli_serve(argc - 2, argv + 2);
#endif
    if (argc >= 2 && cli_files_has(argv[1])) return cli_files(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) return print_usage(stdout, 0);
    return print_usage(stderr, 2);
}
