/** CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the same value zlib.crc32 returns. */
const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * CRC-32 of the first `length` characters of an ASCII string, read as its bytes: the same value
 * as `crc32(new TextEncoder().encode(...))` without encoding a copy (the proxy checks a token's
 * checksum on every request). The caller guarantees ASCII.
 */
export function crc32Ascii(value: string, length: number): number {
  let crc = 0xffffffff;
  for (let i = 0; i < length; i++) crc = TABLE[(crc ^ value.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
