# Reads `conntrack -L` lines and prints, for each connection that carries a helper not named in
# `allowed` (space-separated), the arguments of the `conntrack -D` that deletes it: one line each,
# for one `conntrack -R` batch. The first src/dst/sport/dport of a line are the original direction;
# a protocol without ports (gre, icmp) is deleted by protocol and addresses.
BEGIN {
  n = split(allowed, names, " ")
  for (i = 1; i <= n; i++) keep[names[i]] = 1
}
{
  helper = ""; src = ""; dst = ""; sport = ""; dport = ""
  for (i = 2; i <= NF; i++) {
    eq = index($i, "=")
    if (eq == 0) continue
    key = substr($i, 1, eq - 1); value = substr($i, eq + 1)
    if (key == "helper") helper = value
    else if (key == "src" && src == "") src = value
    else if (key == "dst" && dst == "") dst = value
    else if (key == "sport" && sport == "") sport = value
    else if (key == "dport" && dport == "") dport = value
  }
  if (helper == "" || (helper in keep) || src == "" || dst == "") next
  # conntrack lists a protocol it has no name for as "unknown", which -p does not take
  if ($1 == "unknown") next
  if (sport != "" && dport != "") print "-D -p " $1 " -s " src " -d " dst " --sport " sport " --dport " dport
  else print "-D -p " $1 " -s " src " -d " dst
}
