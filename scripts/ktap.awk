# SPDX-License-Identifier: GPL-2.0
#
# Count the leaf results of a KTAP (or kselftest TAP 13) document.
#
# Nesting is read from each line's prefix of spaces and '#': KTAP indents
# subtests by two spaces, the kselftest runner prefixes them with "# ".  A
# result line closes a parent test when the results just before it are
# nested deeper; only leaves are counted, and their names get the parents'
# names as a path ("selftests/vm_test/create"; the kselftest runner's
# "selftests: DIR: " prefix is dropped).  Rules:
#   - "# SKIP" (and "# TODO") counts as skipped, never as passed;
#   - "# TIMEOUT" and "# ERROR" count as failed even after "ok";
#   - a parent that is "not ok" while none of its subtests failed (a test
#     binary that crashed after its last result) adds one failure;
#   - a plan "1..N" that is not followed by N results at its level, a
#     missing top-level plan and "Bail out!" add one failure each;
#   - a top-level test named by -v need_plan= must contain a nested plan.
# Kernel log lines ("[   12.345678] ...") and other unknown lines are
# ignored.
#
# Output: one "PASS|FAIL|SKIP<TAB>name<TAB>detail" line per counted
# result, then "TOTAL passed failed skipped".

function add(status, name, lvl, why)
{
	n++
	st[n] = status; nm[n] = name; lv[n] = lvl; rs[n] = why
}

# Check and close the plans at levels deeper than l.
function close_plans(l,    k)
{
	for (k in popen) {
		if (!popen[k] || k + 0 <= l)
			continue
		popen[k] = 0
		if (pcnt[k] != pn[k])
			add("FAIL", "KTAP plan", k + 0,
			    "plan 1.." pn[k] " but " pcnt[k] " results")
	}
}

BEGIN { n = 0; top = -1; topplan = 0; deepplan = 0 }

{ sub(/\r$/, "") }

/\[ *[0-9]+\.[0-9]+\] / { next }	# kernel console lines

{
	match($0, /^[ \t#]*/)
	lvl = RLENGTH
	rest = substr($0, RLENGTH + 1)
}

rest ~ /^K?TAP version [0-9]+/ {
	if (top < 0)
		top = lvl
	close_plans(lvl - 1)	# a new document at this level
	next
}

rest ~ /^1\.\.[0-9]+[ \t]*(#.*)?$/ {
	if (top < 0)
		top = lvl
	if (lvl == top)
		topplan = 1
	else if (lvl > top)
		deepplan = 1
	pn[lvl] = substr(rest, 4) + 0
	pcnt[lvl] = 0
	popen[lvl] = 1
	next
}

rest ~ /^Bail out!/ {
	add("FAIL", "Bail out!", lvl, rest)
	next
}

rest ~ /^(not )?ok( |$)/ {
	if (top < 0)
		top = lvl
	bad = (rest ~ /^not /)
	sub(/^(not )?ok */, "", rest)
	sub(/^[0-9]+ */, "", rest)
	sub(/^- */, "", rest)
	desc = rest; dir = ""
	if ((i = index(rest, "#")) > 0) {
		desc = substr(rest, 1, i - 1)
		dir = substr(rest, i + 1)
	}
	sub(/[ \t]+$/, "", desc)
	sub(/^[ \t]+/, "", dir)
	word = toupper(dir)
	sub(/[^A-Z].*$/, "", word)
	if (desc == "")
		desc = "(unnamed)"

	if (word == "SKIP" || word == "TODO")
		status = "SKIP"
	else if (word == "TIMEOUT" || word == "ERROR" || bad)
		status = "FAIL"
	else
		status = "PASS"

	close_plans(lvl)
	if (lvl in popen && popen[lvl])
		pcnt[lvl]++

	if (n > 0 && lv[n] > lvl) {
		# A parent: its subtests are the trailing deeper records.
		# The kselftest runner names binaries "selftests: DIR: NAME".
		pname = desc
		sub(/^selftests: [^ :]+: /, "", pname)
		childfail = 0
		for (i = n; i > 0 && lv[i] > lvl; i--) {
			nm[i] = pname "/" nm[i]
			lv[i] = lvl
			if (st[i] == "FAIL")
				childfail = 1
		}
		if (status == "FAIL" && !childfail)
			add("FAIL", desc, lvl, dir == "" ? "failed" : dir)
		leaf = 0
	} else {
		add(status, desc, lvl, dir)
		leaf = 1
	}
	if (lvl == top && need_plan != "" && desc == need_plan && !deepplan) {
		if (!leaf)
			add("FAIL", desc, lvl, "no KTAP plan in its output")
		else if (st[n] != "FAIL") {
			st[n] = "FAIL"
			rs[n] = "no KTAP plan in its output"
		}
	}
	if (lvl == top)
		deepplan = 0
	next
}

END {
	close_plans(-1)
	if (!topplan)
		add("FAIL", "KTAP plan", top, "no top-level KTAP plan")
	p = f = s = 0
	for (i = 1; i <= n; i++) {
		printf "%s\t%s\t%s\n", st[i], nm[i], rs[i]
		if (st[i] == "PASS")
			p++
		else if (st[i] == "FAIL")
			f++
		else
			s++
	}
	printf "TOTAL %d %d %d\n", p, f, s
}
