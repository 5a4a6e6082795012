"""Sans-I/O codecs, one module per wire protocol: request in, dicts out; bodies in, types out."""
