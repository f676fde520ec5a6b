// A small zip writer (deflate, no dependency): enough for an Elastic Beanstalk source bundle.
// zlib.crc32 exists from Node 20.15 / 22.2, below the engines floor (>=20.19).
import { closeSync, openSync, writeSync } from 'node:fs';
import { crc32, deflateRawSync } from 'node:zlib';

const VERSION_MADE_BY = (3 << 8) | 20; // Unix, spec 2.0: external attributes carry the mode
const VERSION_NEEDED = 20;
const FLAG_UTF8 = 1 << 11;
const METHOD_STORE = 0;
const METHOD_DEFLATE = 8;

/** MS-DOS date and time (local fields, 2-second resolution, from 1980). */
function dosDateTime(date) {
  const year = Math.max(date.getFullYear(), 1980);
  const time = (date.getHours() << 11) | (date.getMinutes() << 5) | Math.floor(date.getSeconds() / 2);
  const day = ((year - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate();
  return { time, day };
}

/**
 * Writes `entries` ({ name, data: Buffer, mode, mtime: Date }) to `file` as a zip archive, in
 * the given order. Names use forward slashes; only files are stored (unzip creates the folders).
 */
export function writeZip(file, entries) {
  if (entries.length > 0xffff) throw new Error(`${file}: too many entries for a zip without zip64`);
  const fd = openSync(file, 'w');
  const central = [];
  let offset = 0;
  const write = (buffer) => {
    writeSync(fd, buffer);
    offset += buffer.length;
  };
  try {
    for (const entry of entries) {
      const name = Buffer.from(entry.name, 'utf8');
      const deflated = deflateRawSync(entry.data, { level: 9 });
      const useDeflate = deflated.length < entry.data.length;
      const body = useDeflate ? deflated : entry.data;
      const crc = crc32(entry.data);
      const { time, day } = dosDateTime(entry.mtime);
      const localOffset = offset;

      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(VERSION_NEEDED, 4);
      local.writeUInt16LE(FLAG_UTF8, 6);
      local.writeUInt16LE(useDeflate ? METHOD_DEFLATE : METHOD_STORE, 8);
      local.writeUInt16LE(time, 10);
      local.writeUInt16LE(day, 12);
      local.writeUInt32LE(crc, 14);
      local.writeUInt32LE(body.length, 18);
      local.writeUInt32LE(entry.data.length, 22);
      local.writeUInt16LE(name.length, 26);
      local.writeUInt16LE(0, 28);
      write(local);
      write(name);
      write(body);

      const header = Buffer.alloc(46);
      header.writeUInt32LE(0x02014b50, 0);
      header.writeUInt16LE(VERSION_MADE_BY, 4);
      header.writeUInt16LE(VERSION_NEEDED, 6);
      header.writeUInt16LE(FLAG_UTF8, 8);
      header.writeUInt16LE(useDeflate ? METHOD_DEFLATE : METHOD_STORE, 10);
      header.writeUInt16LE(time, 12);
      header.writeUInt16LE(day, 14);
      header.writeUInt32LE(crc, 16);
      header.writeUInt32LE(body.length, 20);
      header.writeUInt32LE(entry.data.length, 24);
      header.writeUInt16LE(name.length, 28);
      // extra length, comment length, disk number, internal attributes: 0
      header.writeUInt32LE(((0o100000 | entry.mode) << 16) >>> 0, 38); // regular file + mode
      header.writeUInt32LE(localOffset, 42);
      central.push(header, name);
    }
    const centralStart = offset;
    for (const part of central) write(part);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(entries.length, 8);
    end.writeUInt16LE(entries.length, 10);
    end.writeUInt32LE(offset - centralStart, 12);
    end.writeUInt32LE(centralStart, 16);
    write(end);
  } finally {
    closeSync(fd);
  }
  if (offset > 0xffffffff) throw new Error(`${file}: too large for a zip without zip64`);
}

/** The names in a zip's central directory, in order (what `unzip -Z1` prints). */
export function listZip(buffer) {
  const endAt = buffer.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (endAt < 0) throw new Error('not a zip: no end of central directory');
  const count = buffer.readUInt16LE(endAt + 10);
  let at = buffer.readUInt32LE(endAt + 16);
  const names = [];
  for (let i = 0; i < count; i++) {
    if (buffer.readUInt32LE(at) !== 0x02014b50) throw new Error('bad central directory entry');
    const nameLength = buffer.readUInt16LE(at + 28);
    const extraLength = buffer.readUInt16LE(at + 30);
    const commentLength = buffer.readUInt16LE(at + 32);
    names.push(buffer.toString('utf8', at + 46, at + 46 + nameLength));
    at += 46 + nameLength + extraLength + commentLength;
  }
  return names;
}
