#!/bin/sh
# hostdb_kill_fails.sh WEAVE — hostdb_kill.sh can fail: run briefly on a
# `weave` wrapped to plant one fault each, it must report that fault.
#   lost:     `weave host log` omits an acknowledged entry
#   twice:    `weave host log` shows an atom id in a second entry
#   diverged: `weave host read --upto` reports another hash
set -eu
weave=$1
here=$(dirname "$0")
dir=$(mktemp -d "${TMPDIR:-/tmp}/wvh-fails-XXXXXX")
trap 'rm -rf "$dir"' EXIT
status=0
plant() { # plant NAME FILTER PATTERN: FILTER edits the output of the wrapped command
    name=$1 filter=$2 pattern=$3
    cat >"$dir/$name" <<EOS
#!/bin/sh
case "\$1 \$2 \$5" in
$filter
*) exec "$weave" "\$@" ;;
esac
EOS
    chmod +x "$dir/$name"
    out=$(WVH_KILL_SECONDS=1 sh "$here/hostdb_kill.sh" "$dir/$name" 2>&1) && st=0 || st=$?
    if [ "$st" = 1 ] && printf '%s\n' "$out" | grep -q "$pattern"; then
        echo "ok   $name: $(printf '%s\n' "$out" | grep FAIL | head -1)"
    else
        echo "FAIL $name: status $st, wanted 1 and '$pattern': $out"
        status=1
    fi
}
plant lost "'host log '*) \"$weave\" \"\$@\" | sed 3d ;;" "is not in the log"
plant twice "'host log '*) \"$weave\" \"\$@\" | awk '{print} NR == 3 {\$1 = 999999; print}' ;;" "logged twice"
plant diverged "'host read --upto') \"$weave\" \"\$@\" | sed 's/^hash: ./hash: z/' ;;" "the log's replay"
exit $status
