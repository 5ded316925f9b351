"""PlatON's WASM contract ABI for the Python client tests: RLP([fnv1a64(method), args...]) call data,
the `\\0asm` deploy envelope, and the RLP pieces they are made of."""


def rlp_header(n, short):
    if n < 56:
        return bytes([short + n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([short + 55 + len(b)]) + b


def rlp_bytes(b):
    if len(b) == 1 and b[0] < 0x80:
        return bytes(b)
    return rlp_header(len(b), 0x80) + bytes(b)


def rlp_int(n):
    return rlp_bytes(n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b"")


def rlp_list(items):
    payload = b"".join(items)
    return rlp_header(len(payload), 0xC0) + payload


def rlp_decode_bytes(b):
    p = b[0]
    if p < 0x80:
        return b[:1]
    if p <= 0xB7:
        return b[1 : 1 + p - 0x80]
    n = p - 0xB7
    ln = int.from_bytes(b[1 : 1 + n], "big")
    return b[1 + n : 1 + n + ln]


def fnv1a64(name):
    h = 0xCBF29CE484222325
    for c in name.encode():
        h ^= c
        h = (h * 0x100000001B3) % 2**64
    return h


def call_data(method, *args):
    return rlp_list([rlp_int(fnv1a64(method))] + list(args))


def deploy_data(module, init=b""):
    return b"\0asm" + rlp_list([rlp_bytes(module), rlp_bytes(init)])
