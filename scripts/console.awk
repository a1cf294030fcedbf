# SPDX-License-Identifier: GPL-2.0
#
# Live view of the rig's serial console: shows the sections the init script
# marks ("shv-rig: begin NAME" .. "shv-rig: end NAME"), its "shv-rig:"
# messages and any kernel splat; hides the boot log and the final dmesg
# dump (both stay in .cache/MODE.log).  verbose=1 shows everything.
# The splat pattern comes from the environment (SPLAT_RE).

BEGIN { sect = ""; re = ENVIRON["SPLAT_RE"] }

function show(s) { print s; fflush() }

{ sub(/\r+$/, ""); gsub(/\r/, "") }

verbose { show($0); next }

# A marker after output that did not end its line: split them.
(i = index($0, "shv-rig: ")) > 1 {
	if (sect != "" && sect != "dmesg")
		show(substr($0, 1, i - 1))
	$0 = substr($0, i)
}

/^shv-rig: begin / {
	sect = substr($0, 16)
	next
}

/^shv-rig: end / {
	sect = ""
	next
}

/^shv-rig: (done|demo exit status)/ { next }

/^shv-rig: / { show($0); next }

sect == "dmesg" { next }

sect != "" { show($0); next }

re != "" && $0 ~ re { show($0) }
