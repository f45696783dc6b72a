// Byte views and a growable byte writer. Secrets (passwords) and wire data stay bytes in the guest; only
// text that is text (user names, log lines) becomes an AssemblyScript string.

const ASCII_MISMATCH: i32 = -1;

/** A read-only view of `len` bytes at `ptr` in linear memory. */
export class Bytes {
  constructor(public ptr: usize, public len: i32) {}

  @inline at(i: i32): u8 {
    return load<u8>(this.ptr + <usize>i);
  }

  slice(start: i32, end: i32): Bytes {
    return new Bytes(this.ptr + <usize>start, end - start);
  }

  /** True if these bytes equal the ASCII/UTF-8 string `s`. */
  equals(s: string): bool {
    const ascii = this.asciiPrefix(s);
    if (ascii == ASCII_MISMATCH) return false;
    if (ascii == s.length) return this.len == ascii;
    const n = String.UTF8.byteLength(s);
    if (n != this.len) return false;
    const buf = String.UTF8.encode(s);
    return memory.compare(this.ptr, changetype<usize>(buf), n) == 0;
  }

  startsWith(s: string): bool {
    const ascii = this.asciiPrefix(s);
    if (ascii == ASCII_MISMATCH) return false;
    if (ascii == s.length) return true;
    const n = String.UTF8.byteLength(s);
    if (n > this.len) return false;
    const buf = String.UTF8.encode(s);
    return memory.compare(this.ptr, changetype<usize>(buf), n) == 0;
  }

  /** Compares `s` with these bytes while `s` is ASCII (its UTF-8 is then its code units): ASCII_MISMATCH if they
   *  differ there, else how many leading characters of `s` are ASCII and matched. Markup names are ASCII, so the
   *  common comparison needs no UTF-8 copy of `s`. */
  private asciiPrefix(s: string): i32 {
    const m = s.length;
    for (let k = 0; k < m; k++) {
      const c = <u32>s.charCodeAt(k);
      if (c >= 0x80) return k;
      if (k >= this.len || c != <u32>this.at(k)) return ASCII_MISMATCH;
    }
    return m;
  }

  /** Decode as UTF-8 text. Only for bytes already checked with `isStrictUtf8`, never for secrets. */
  toText(): string {
    return String.UTF8.decodeUnsafe(this.ptr, <usize>this.len, false);
  }

  static empty(): Bytes {
    return new Bytes(0, 0);
  }

  static ofString(s: string): Bytes {
    const buf = String.UTF8.encode(s);
    return new Bytes(changetype<usize>(buf), buf.byteLength);
  }
}

/** An append-only byte buffer. The stub runtime never frees, so the writer sizes itself generously once. */
export class ByteWriter {
  ptr: usize;
  len: i32 = 0;
  cap: i32;

  constructor(capacity: i32 = 1024) {
    this.cap = capacity;
    this.ptr = heap.alloc(<usize>capacity);
  }

  private reserve(extra: i32): void {
    const need = this.len + extra;
    if (need <= this.cap) return;
    let cap = this.cap << 1;
    while (cap < need) cap <<= 1;
    this.ptr = heap.realloc(this.ptr, <usize>cap);
    this.cap = cap;
  }

  byte(b: u8): void {
    this.reserve(1);
    store<u8>(this.ptr + <usize>this.len, b);
    this.len++;
  }

  bytes(src: Bytes): void {
    this.reserve(src.len);
    memory.copy(this.ptr + <usize>this.len, src.ptr, <usize>src.len);
    this.len += src.len;
  }

  /** Append a string's UTF-8 bytes verbatim (for markup the guest writes itself, never for input). */
  text(s: string): void {
    // ASCII (all of the envelope's markup) is narrowed from UTF-16 four units at a time; anything else goes
    // through the UTF-8 encoder.
    const m = s.length;
    this.reserve(m);
    const src = changetype<usize>(s);
    const out = this.ptr + <usize>this.len;
    let k = 0;
    for (; k + 4 <= m; k += 4) {
      const v = load<u64>(src + (<usize>k << 1));
      if (v & 0xff80ff80ff80ff80) break;
      store<u32>(out + <usize>k,
        <u32>((v & 0xff) | ((v >> 8) & 0xff00) | ((v >> 16) & 0xff0000) | ((v >> 24) & 0xff000000)));
    }
    for (; k < m; k++) {
      const c = load<u16>(src + (<usize>k << 1));
      if (c >= 0x80) {
        const n = String.UTF8.byteLength(s);
        this.reserve(n);
        String.UTF8.encodeUnsafe(src, m, this.ptr + <usize>this.len, false);
        this.len += n;
        return;
      }
      store<u8>(out + <usize>k, <u8>c);
    }
    this.len += m;
  }

  decimal(v: u64): void {
    this.text(v.toString());
  }

  view(): Bytes {
    return new Bytes(this.ptr, this.len);
  }

  /** Overwrite the contents with zeros (used for buffers that held a password). */
  wipe(): void {
    memory.fill(this.ptr, 0, <usize>this.cap);
  }
}
