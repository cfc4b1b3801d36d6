tree{ name = "snapshot_write", version = "1.0", probes = {} }
snapshot.device.mode = "normal"
