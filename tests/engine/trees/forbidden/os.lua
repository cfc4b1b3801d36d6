tree{ name = "os", version = "1.0", probes = {} }
os.time()
