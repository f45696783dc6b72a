// Merges the guest's active data segments into one, in place: node scripts/merge-data-segments.mjs FILE.wasm
//
// AssemblyScript emits one data segment per static object (1063 for the guest: every string literal), and
// binaryen's memory packing keeps them apart. wasm2c turns each into a bounds check and a memcpy at every
// instantiation, and the module instantiates once per PAM call: one 40 KB copy instead is a few µs per login
// (npm run bench, guest alone). The gaps between segments become zeros, which is what they are anyway in a fresh
// memory; segments are laid down in their original order, so an overlap resolves as instantiation would.
// Uses the binaryen that AssemblyScript itself ships with, so nothing new is installed.
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const file = process.argv[2];
if (!file) {
  console.error("usage: node scripts/merge-data-segments.mjs FILE.wasm");
  process.exit(2);
}
const require = createRequire(import.meta.url);
const binaryenPath = createRequire(require.resolve("assemblyscript/package.json")).resolve("binaryen");
const binaryen = (await import(pathToFileURL(binaryenPath).href)).default;

const module = binaryen.readBinary(readFileSync(file));
module.setFeatures(binaryen.Features.All);
const segments = [];
for (let i = 0; i < module.getNumDataSegments(); i++) {
  const info = module.getDataSegmentInfo(module.getDataSegmentByIndex(i));
  if (info.passive) {
    console.error(`merge-data-segments: ${file} has a passive data segment (memory.init); merging would renumber it`);
    process.exit(1);
  }
  segments.push({ offset: info.offset, data: new Uint8Array(info.data) });
}
if (segments.length > 1) {
  const low = Math.min(...segments.map((s) => s.offset));
  const high = Math.max(...segments.map((s) => s.offset + s.data.length));
  const image = new Uint8Array(high - low);
  for (const s of segments) image.set(s.data, s.offset - low);
  const memory = module.getMemoryInfo();
  // No export name: the memory keeps its existing export ("memory").
  module.setMemory(memory.initial, memory.max, null, [{ offset: module.i32.const(low), data: image, passive: false }],
    memory.shared, memory.is64, "0");
  if (!module.validate()) {
    console.error(`merge-data-segments: ${file} does not validate after merging`);
    process.exit(1);
  }
  writeFileSync(file, module.emitBinary());
  console.log(`merge-data-segments: ${segments.length} data segments -> 1 (${image.length} bytes at ${low})`);
}
module.dispose();
