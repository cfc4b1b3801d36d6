tree{ name = "gcloop", version = "1.0", probes = {} }
-- A finalizer runs with hooks off: it could loop where no limit sees it, so it is refused.
setmetatable({}, { __gc = function() while true do end end })
