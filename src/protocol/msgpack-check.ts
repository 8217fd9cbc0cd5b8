/**
 * A structural pass over a MessagePack frame before msgpackr decodes it.
 *
 * - msgpackr understands its own extensions (records, bigints, typed arrays,
 *   structured clones, ...) and would turn them into values no other client
 *   can read; the protocol allows plain MessagePack plus the timestamp
 *   extension (-1) only.
 * - msgpackr renames a map key "__proto__" to "__proto_" (its guard against
 *   prototype pollution), which would silently change a producer's data; such
 *   a key is refused instead. As a value the string is fine.
 * - Nesting is bounded here, before a recursive decoder sees it.
 *
 * One linear walk over the bytes. Every value costs at least one byte, so
 * hostile length headers cannot make it loop; truncation is left to the
 * decoder, which reports it as decode_failed.
 */

/** Frame envelope (batch map, events array, event map) plus the payload depth limit, with room to spare. */
export const MAX_FRAME_DEPTH = 72;

const PROTO = Buffer.from('__proto__');

function uint(buf: Uint8Array, pos: number, width: number): number {
  let n = 0;
  for (let i = 0; i < width; i++) n = n * 256 + (buf[pos + i] ?? 0);
  return n;
}

function isProto(buf: Uint8Array, pos: number, length: number): boolean {
  if (length !== PROTO.length || pos + length > buf.length) return false;
  for (let i = 0; i < length; i++) if (buf[pos + i] !== PROTO[i]) return false;
  return true;
}

/** Returns why the frame is not acceptable MessagePack, or null. */
export function msgpackProblem(buf: Uint8Array): string | null {
  const end = buf.length;
  let pos = 0;
  // Per open container: values still to read (maps count keys and values), and whether it is a map.
  const left: number[] = [1];
  const isMap: boolean[] = [false];
  while (pos < end) {
    let top = left.length - 1;
    while (top >= 0 && left[top] === 0) {
      left.pop();
      isMap.pop();
      top--;
    }
    if (top < 0) return null;
    const readingKey = isMap[top] === true && left[top]! % 2 === 0;
    left[top]!--;

    const b = buf[pos++]!;
    let container = -1; // element count of an array or map starting here
    let map = false;
    let strLength = -1;
    if (b <= 0x7f || b >= 0xe0) continue; // fixints
    if (b <= 0x8f) {
      container = b & 0x0f;
      map = true;
    } else if (b <= 0x9f) {
      container = b & 0x0f;
    } else if (b <= 0xbf) {
      strLength = b & 0x1f;
    } else {
      switch (b) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
          continue;
        case 0xc1:
          return 'the byte 0xc1 is never used in MessagePack';
        case 0xd9:
          strLength = uint(buf, pos, 1);
          pos += 1;
          break;
        case 0xda:
          strLength = uint(buf, pos, 2);
          pos += 2;
          break;
        case 0xdb:
          strLength = uint(buf, pos, 4);
          pos += 4;
          break;
        case 0xc4:
          pos += 1 + uint(buf, pos, 1);
          continue;
        case 0xc5:
          pos += 2 + uint(buf, pos, 2);
          continue;
        case 0xc6:
          pos += 4 + uint(buf, pos, 4);
          continue;
        case 0xcc:
        case 0xd0:
          pos += 1;
          continue;
        case 0xcd:
        case 0xd1:
          pos += 2;
          continue;
        case 0xca:
        case 0xce:
        case 0xd2:
          pos += 4;
          continue;
        case 0xcb:
        case 0xcf:
        case 0xd3:
          pos += 8;
          continue;
        case 0xdc:
          container = uint(buf, pos, 2);
          pos += 2;
          break;
        case 0xdd:
          container = uint(buf, pos, 4);
          pos += 4;
          break;
        case 0xde:
          container = uint(buf, pos, 2);
          map = true;
          pos += 2;
          break;
        case 0xdf:
          container = uint(buf, pos, 4);
          map = true;
          pos += 4;
          break;
        default: {
          // Extensions: fixext 1/2/4/8/16 (0xd4-0xd8) and ext 8/16/32 (0xc7-0xc9).
          let size: number;
          if (b >= 0xd4 && b <= 0xd8) {
            size = 1 << (b - 0xd4);
          } else {
            const width = b === 0xc7 ? 1 : b === 0xc8 ? 2 : 4;
            size = uint(buf, pos, width);
            pos += width;
          }
          if (pos >= end) return null;
          const type = buf[pos++]!;
          if (type !== 0xff || (size !== 4 && size !== 8 && size !== 12)) {
            return `MessagePack extension type ${type > 127 ? type - 256 : type} is not supported (only the timestamp extension, -1)`;
          }
          pos += size;
          continue;
        }
      }
    }
    if (strLength >= 0) {
      if (readingKey && isProto(buf, pos, strLength)) return 'the map key "__proto__" is not allowed';
      pos += strLength;
      continue;
    }
    if (container > 0) {
      if (left.length >= MAX_FRAME_DEPTH) return `nested deeper than ${MAX_FRAME_DEPTH} levels`;
      left.push(map ? 2 * container : container);
      isMap.push(map);
    }
  }
  return null;
}
