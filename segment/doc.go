// Package segment is silt's on-bucket segment object format: what an agent
// writes once per flush, holding one chunk of record batches for every
// partition it buffered, and what fetches, the compactor and `silt cat`
// read back (through chunkread).
//
// This comment is the specification. The layout is pinned by
// testdata/segment-v1.golden; a change to the bytes Build writes must bump
// Version, and every older version must stay readable.
//
// The package knows nothing about Kafka: a chunk is opaque bytes (the
// partition's record batches back to back, with placeholder base offsets
// that the fetch path patches). Batch and record counts are carried for the
// journal and tools, never parsed here.
//
// # Names
//
// A segment's ID is 16 bytes: the big-endian unix-millisecond time of its
// creation in the first 6, random bytes in the other 10, written as 32
// lowercase hex digits. Its object key, under the cluster prefix, is
//
//	segments/<shard>/<id>.seg
//
// where shard is the first byte of SHA-256 of the 16 id bytes, as 2 hex
// digits: hashing the whole id, not its time prefix, spreads the writes of
// one moment over 256 prefixes.
//
// # Object
//
// A segment is one object laid out as
//
//	header ‖ chunk 0 ‖ chunk 1 ‖ … ‖ chunk n-1 ‖ index ‖ trailer
//	                                             └──── footer ────┘
//
// The object is dense: chunk 0 starts right after the header, each chunk
// starts where the previous one ends, and the index starts where the last
// chunk ends. So every byte of the object is covered by a check (magic,
// version, id cross-check, chunk CRC or index CRC) and a flipped byte
// anywhere is detected. All integers are big-endian (as in Kafka), fixed
// width, so a hex dump is readable without a decoder.
//
// # Header (HeaderSize = 24 bytes, offset 0)
//
//	offset  size  field
//	     0     7  magic "SILTSEG" (53 49 4c 54 53 45 47)
//	     7     1  format version, 1
//	     8    16  segment ID; must equal the ID in the index
//
// # Chunk (offset Pos, Len bytes)
//
// The stored bytes of one partition's chunk: the raw bytes when the codec
// is none (Len = RawLen), or exactly one zstd frame (RFC 8878) when the
// codec is zstd. The zstd frame must declare Frame_Content_Size = RawLen,
// use no dictionary, end exactly at the end of the chunk (after its optional
// content checksum), and be shorter than the raw bytes (Len < RawLen): Build
// stores a chunk compressed only when that shrinks it. Writers compress only
// chunks whose batches the producer left uncompressed, so clients get back
// exactly the batches they sent.
//
// # Index (IndexLen bytes, offset FooterPos)
//
//	offset  size  field
//	     0    16  segment ID
//	    16     4  chunk count n, uint32, at least 1
//	    20     …  n entries, in object order
//
// Entry (47 + t bytes):
//
//	offset  size  field
//	     0     2  topic length t, uint16, at least 1
//	     2     t  topic, UTF-8
//	   2+t     4  partition, int32, at least 0
//	   6+t     8  Pos: offset of the stored chunk in the object, uint64
//	  14+t     8  Len: stored length, uint64, at least 1
//	  22+t     8  RawLen: length after decompression, uint64, 1 … MaxChunkSize
//	  30+t     1  codec: 0 none, 1 zstd
//	  31+t     4  CRC-32C (Castagnoli) of the stored bytes
//	  35+t     4  batches, int32, at least 0
//	  39+t     8  records, int64, at least 0
//
// The entries end exactly at the end of the index. No two entries name the
// same (topic, partition).
//
// # Trailer (TrailerSize = 16 bytes, the last bytes of the object)
//
//	offset  size  field
//	     0     4  IndexLen, uint32
//	     4     4  CRC-32C (Castagnoli) of the index
//	     8     7  magic "SILTSEG"
//	    15     1  format version, 1; must equal the header's
//
// The footer is the index followed by the trailer; it starts at FooterPos =
// objectSize − IndexLen − TrailerSize. Putting the magic last lets a reader
// recognise a segment, and its version, from the last bytes alone.
//
// # Reading
//
// A reader holding the whole object calls Parse. A reader of a large object
// makes two ranged reads: the last TrailerSize bytes (ParseTrailer gives the
// footer's position and length), then the footer (ParseFooter). Reading a
// generous tail (say the last 64 KiB) first usually gets the whole footer in
// one request; ParseTrailer accepts any tail that ends at the object's end.
// Either way, the chunk bytes are then read by (Pos, Len) and checked and
// decompressed by DecodeChunk, which needs only the ChunkInfo, so a
// ChunkInfo kept elsewhere (the journal) is enough to serve a fetch.
//
// The ranged path does not read the header, so it does not check the header
// magic and id; Parse does. Verify checks everything, chunks included.
//
// # Hostile bytes
//
// Readers treat bucket bytes as untrusted. Every violation of this
// specification is reported as an error wrapping ErrCorrupt, never a panic;
// no decoder allocates according to a count the remaining bytes could not
// hold. DecodeChunk sizes its output from RawLen, never from the zstd frame,
// and first rejects a RawLen over MaxChunkSize or more than the stored bytes
// could decompress to (zstd's bound: a block of 4 bytes yields at most
// 128 KiB), so a small hostile chunk cannot make it allocate much.
//
// # Versions
//
// Version 1 is the only version. A reader meeting another version returns
// an error wrapping both ErrCorrupt (it cannot use the bytes) and
// ErrUnknownVersion (so a tool can say "written by a newer silt").
package segment
