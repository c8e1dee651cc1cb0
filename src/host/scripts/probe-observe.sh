# shellcheck shell=sh source-path=SCRIPTDIR
# A refresh in one round trip: the probe, then observe with the artefacts the controller rendered
# for the host it expects (observe.ts reads the probe's part and runs observe again only if the
# host turned out otherwise). Each script runs as it would alone, in its own shell.
B=$1
sh "$B/probe.sh" "$B" || exit
# the probe's part ends here (its sections closed): without this line, the probe did not finish
echo "probe=done"
exec sh "$B/observe.sh" "$B"
