// The hand-lowered canonical ABI (docs/abi.md): reading what the host passed in, writing return areas.
import { Bytes } from "./bytes";
import { isStrictUtf8 } from "./utf8";

/** Allocate `size` bytes with the given alignment (the stub runtime aligns to 16, enough for every type). */
export function alloc(size: usize): usize {
  return heap.alloc(size == 0 ? 1 : size);
}

/** Copy a guest string into fresh memory and return its (ptr, len) for a return area. */
export function storeString(area: usize, s: string): void {
  const buf = String.UTF8.encode(s);
  const len = buf.byteLength;
  const ptr = alloc(<usize>len);
  memory.copy(ptr, changetype<usize>(buf), <usize>len);
  store<u32>(area, <u32>ptr);
  store<u32>(area, <u32>len, 4);
}

/** `list<string>` from the host as byte views; null if any element is out of bounds. */
export function readByteList(ptr: usize, count: usize): Array<Bytes> | null {
  const out = new Array<Bytes>();
  if (count > 1024) return null;
  const limit = <usize>memory.size() << 16;
  if (count > 0 && (ptr > limit || count * 8 > limit - ptr)) return null;
  for (let i: usize = 0; i < count; i++) {
    const p = <usize>load<u32>(ptr + i * 8);
    const n = <usize>load<u32>(ptr + i * 8, 4);
    if (!inBounds(p, n)) return null;
    out.push(new Bytes(p, <i32>n));
  }
  return out;
}

export function inBounds(ptr: usize, len: usize): bool {
  const limit = <usize>memory.size() << 16;
  return len <= limit && ptr <= limit - len;
}

/** A view of host-provided bytes, or null if out of bounds. */
export function readBytes(ptr: usize, len: usize): Bytes | null {
  if (len > 0x7fffffff || !inBounds(ptr, len)) return null;
  return new Bytes(ptr, <i32>len);
}

/** Text from the host (service name, module arguments, rhost) as a string, or null unless strict UTF-8. */
export function readText(ptr: usize, len: usize): string | null {
  const b = readBytes(ptr, len);
  if (b == null || !isStrictUtf8(b)) return null;
  return b.toText();
}

/** Write `list<string>` into fresh memory; returns the pointer to its (ptr, len) pairs. */
export function storeStringList(area: usize, items: Array<string>): void {
  const pairs = alloc(<usize>items.length * 8);
  for (let i = 0; i < items.length; i++) storeString(pairs + <usize>i * 8, items[i]);
  store<u32>(area, <u32>pairs);
  store<u32>(area, <u32>items.length, 4);
}
