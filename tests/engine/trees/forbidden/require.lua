tree{ name = "require", version = "1.0", probes = {} }
require('socket')
