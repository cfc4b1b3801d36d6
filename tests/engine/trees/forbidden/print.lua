tree{ name = "print", version = "1.0", probes = {} }
print('hello')
