tree{ name = "give", version = "1.0", probes = {} }
-- history is visible, read-only, and a derived reading leaves the tree
local last = history[#history]
reading("history_seen", { rows = #history, last_at = last and last.at or "none" })
