/**
 * The Matroska element table: id, name, value type and allowed parents of the
 * elements kvsaudio knows. Unknown ids are skipped by size and reported.
 *
 * The parent relation drives the Matroska rule for unknown-size masters: such
 * a master ends at the first element that cannot be its descendant.
 *
 * @example
 * ```ts
 * import { elementById, ID } from "./elements.ts";
 * elementById(ID.SimpleBlock)?.name; // "SimpleBlock"
 * elementById(ID.Cluster)?.type;     // "master"
 * ```
 * @module
 */

/** Value type of an EBML element. */
export type ElementType =
  | "master"
  | "uint"
  | "int"
  | "float"
  | "string"
  | "utf8"
  | "date"
  | "binary";

/** One entry of the element table. */
export interface ElementDef {
  /** Element id with its VINT marker bit, e.g. `0x1F43B675`. */
  readonly id: number;
  /** Matroska name, e.g. `Cluster`. */
  readonly name: string;
  /** Value type. */
  readonly type: ElementType;
  /** Ids of the allowed parents; `0` = top level; empty = global (anywhere). */
  readonly parents: readonly number[];
  /** Ids of every possible ancestor (transitive closure of `parents`). */
  readonly ancestors: ReadonlySet<number>;
  /** True for global elements (Void, CRC-32) allowed in any master. */
  readonly global: boolean;
}

/**
 * Ids of the elements kvsaudio's stages read by name.
 *
 * @example
 * ```ts
 * import { elementByName, ID } from "./elements.ts";
 * ID.Cluster.toString(16);                         // "1f43b675"
 * elementByName("SimpleBlock")?.id === ID.SimpleBlock; // true
 * ```
 */
export const ID = {
  EBML: 0x1a45dfa3,
  EBMLVersion: 0x4286,
  EBMLReadVersion: 0x42f7,
  EBMLMaxIDLength: 0x42f2,
  EBMLMaxSizeLength: 0x42f3,
  DocType: 0x4282,
  DocTypeVersion: 0x4287,
  DocTypeReadVersion: 0x4285,
  Void: 0xec,
  CRC32: 0xbf,
  Segment: 0x18538067,
  SeekHead: 0x114d9b74,
  Info: 0x1549a966,
  TimecodeScale: 0x2ad7b1,
  Duration: 0x4489,
  Title: 0x7ba9,
  Tracks: 0x1654ae6b,
  TrackEntry: 0xae,
  TrackNumber: 0xd7,
  TrackUID: 0x73c5,
  TrackType: 0x83,
  Name: 0x536e,
  CodecID: 0x86,
  CodecPrivate: 0x63a2,
  Audio: 0xe1,
  SamplingFrequency: 0xb5,
  Channels: 0x9f,
  BitDepth: 0x6264,
  ContentEncodings: 0x6d80,
  Cluster: 0x1f43b675,
  Timecode: 0xe7,
  SimpleBlock: 0xa3,
  BlockGroup: 0xa0,
  Block: 0xa1,
  BlockDuration: 0x9b,
  Tags: 0x1254c367,
  Tag: 0x7373,
  Targets: 0x63c0,
  SimpleTag: 0x67c8,
  TagName: 0x45a3,
  TagString: 0x4487,
  TagBinary: 0x4485,
} as const;

const TOP = 0;
const GLOBAL = -1;
type Row = [
  id: number,
  name: string,
  type: ElementType,
  parent: number | number[],
];

// deno-fmt-ignore
const ROWS: Row[] = [
  // EBML header
  [0x1a45dfa3, "EBML", "master", TOP],
  [0x4286, "EBMLVersion", "uint", 0x1a45dfa3],
  [0x42f7, "EBMLReadVersion", "uint", 0x1a45dfa3],
  [0x42f2, "EBMLMaxIDLength", "uint", 0x1a45dfa3],
  [0x42f3, "EBMLMaxSizeLength", "uint", 0x1a45dfa3],
  [0x4282, "DocType", "string", 0x1a45dfa3],
  [0x4287, "DocTypeVersion", "uint", 0x1a45dfa3],
  [0x4285, "DocTypeReadVersion", "uint", 0x1a45dfa3],
  [0x4281, "DocTypeExtension", "master", 0x1a45dfa3],
  [0x4283, "DocTypeExtensionName", "string", 0x4281],
  [0x4284, "DocTypeExtensionVersion", "uint", 0x4281],
  // globals
  [0xec, "Void", "binary", GLOBAL],
  [0xbf, "CRC-32", "binary", GLOBAL],
  // Segment
  [0x18538067, "Segment", "master", TOP],
  [0x114d9b74, "SeekHead", "master", 0x18538067],
  [0x4dbb, "Seek", "master", 0x114d9b74],
  [0x53ab, "SeekID", "binary", 0x4dbb],
  [0x53ac, "SeekPosition", "uint", 0x4dbb],
  // Info
  [0x1549a966, "Info", "master", 0x18538067],
  [0x73a4, "SegmentUID", "binary", 0x1549a966],
  [0x7384, "SegmentFilename", "utf8", 0x1549a966],
  [0x3cb923, "PrevUID", "binary", 0x1549a966],
  [0x3c83ab, "PrevFilename", "utf8", 0x1549a966],
  [0x3eb923, "NextUID", "binary", 0x1549a966],
  [0x3e83bb, "NextFilename", "utf8", 0x1549a966],
  [0x4444, "SegmentFamily", "binary", 0x1549a966],
  [0x6924, "ChapterTranslate", "master", 0x1549a966],
  [0x2ad7b1, "TimecodeScale", "uint", 0x1549a966],
  [0x4489, "Duration", "float", 0x1549a966],
  [0x4461, "DateUTC", "date", 0x1549a966],
  [0x7ba9, "Title", "utf8", 0x1549a966],
  [0x4d80, "MuxingApp", "utf8", 0x1549a966],
  [0x5741, "WritingApp", "utf8", 0x1549a966],
  // Cluster
  [0x1f43b675, "Cluster", "master", 0x18538067],
  [0xe7, "Timecode", "uint", 0x1f43b675],
  [0x5854, "SilentTracks", "master", 0x1f43b675],
  [0x58d7, "SilentTrackNumber", "uint", 0x5854],
  [0xa7, "Position", "uint", 0x1f43b675],
  [0xab, "PrevSize", "uint", 0x1f43b675],
  [0xa3, "SimpleBlock", "binary", 0x1f43b675],
  [0xa0, "BlockGroup", "master", 0x1f43b675],
  [0xa1, "Block", "binary", 0xa0],
  [0xa2, "BlockVirtual", "binary", 0xa0],
  [0x75a1, "BlockAdditions", "master", 0xa0],
  [0xa6, "BlockMore", "master", 0x75a1],
  [0xee, "BlockAddID", "uint", 0xa6],
  [0xa5, "BlockAdditional", "binary", 0xa6],
  [0x9b, "BlockDuration", "uint", 0xa0],
  [0xfa, "ReferencePriority", "uint", 0xa0],
  [0xfb, "ReferenceBlock", "int", 0xa0],
  [0xfd, "ReferenceVirtual", "int", 0xa0],
  [0xa4, "CodecState", "binary", 0xa0],
  [0x75a2, "DiscardPadding", "int", 0xa0],
  [0x8e, "Slices", "master", 0xa0],
  [0xe8, "TimeSlice", "master", 0x8e],
  [0xcc, "LaceNumber", "uint", 0xe8],
  [0xaf, "EncryptedBlock", "binary", 0x1f43b675],
  // Tracks
  [0x1654ae6b, "Tracks", "master", 0x18538067],
  [0xae, "TrackEntry", "master", 0x1654ae6b],
  [0xd7, "TrackNumber", "uint", 0xae],
  [0x73c5, "TrackUID", "uint", 0xae],
  [0x83, "TrackType", "uint", 0xae],
  [0xb9, "FlagEnabled", "uint", 0xae],
  [0x88, "FlagDefault", "uint", 0xae],
  [0x55aa, "FlagForced", "uint", 0xae],
  [0x55ab, "FlagHearingImpaired", "uint", 0xae],
  [0x55ac, "FlagVisualImpaired", "uint", 0xae],
  [0x55ad, "FlagTextDescriptions", "uint", 0xae],
  [0x55ae, "FlagOriginal", "uint", 0xae],
  [0x55af, "FlagCommentary", "uint", 0xae],
  [0x9c, "FlagLacing", "uint", 0xae],
  [0x6de7, "MinCache", "uint", 0xae],
  [0x6df8, "MaxCache", "uint", 0xae],
  [0x23e383, "DefaultDuration", "uint", 0xae],
  [0x234e7a, "DefaultDecodedFieldDuration", "uint", 0xae],
  [0x23314f, "TrackTimecodeScale", "float", 0xae],
  [0x537f, "TrackOffset", "int", 0xae],
  [0x55ee, "MaxBlockAdditionID", "uint", 0xae],
  [0x41e4, "BlockAdditionMapping", "master", 0xae],
  [0x536e, "Name", "utf8", 0xae],
  [0x22b59c, "Language", "string", 0xae],
  [0x22b59d, "LanguageBCP47", "string", 0xae],
  [0x86, "CodecID", "string", 0xae],
  [0x63a2, "CodecPrivate", "binary", 0xae],
  [0x258688, "CodecName", "utf8", 0xae],
  [0x7446, "AttachmentLink", "uint", 0xae],
  [0xaa, "CodecDecodeAll", "uint", 0xae],
  [0x6fab, "TrackOverlay", "uint", 0xae],
  [0x56aa, "CodecDelay", "uint", 0xae],
  [0x56bb, "SeekPreRoll", "uint", 0xae],
  [0x6624, "TrackTranslate", "master", 0xae],
  [0xe0, "Video", "master", 0xae],
  [0x9a, "FlagInterlaced", "uint", 0xe0],
  [0x9d, "FieldOrder", "uint", 0xe0],
  [0x53b8, "StereoMode", "uint", 0xe0],
  [0x53c0, "AlphaMode", "uint", 0xe0],
  [0xb0, "PixelWidth", "uint", 0xe0],
  [0xba, "PixelHeight", "uint", 0xe0],
  [0x54aa, "PixelCropBottom", "uint", 0xe0],
  [0x54bb, "PixelCropTop", "uint", 0xe0],
  [0x54cc, "PixelCropLeft", "uint", 0xe0],
  [0x54dd, "PixelCropRight", "uint", 0xe0],
  [0x54b0, "DisplayWidth", "uint", 0xe0],
  [0x54ba, "DisplayHeight", "uint", 0xe0],
  [0x54b2, "DisplayUnit", "uint", 0xe0],
  [0x54b3, "AspectRatioType", "uint", 0xe0],
  [0x2eb524, "ColourSpace", "binary", 0xe0],
  [0x55b0, "Colour", "master", 0xe0],
  [0x55b1, "MatrixCoefficients", "uint", 0x55b0],
  [0x55b2, "BitsPerChannel", "uint", 0x55b0],
  [0x55b3, "ChromaSubsamplingHorz", "uint", 0x55b0],
  [0x55b4, "ChromaSubsamplingVert", "uint", 0x55b0],
  [0x55b5, "CbSubsamplingHorz", "uint", 0x55b0],
  [0x55b6, "CbSubsamplingVert", "uint", 0x55b0],
  [0x55b7, "ChromaSitingHorz", "uint", 0x55b0],
  [0x55b8, "ChromaSitingVert", "uint", 0x55b0],
  [0x55b9, "Range", "uint", 0x55b0],
  [0x55ba, "TransferCharacteristics", "uint", 0x55b0],
  [0x55bb, "Primaries", "uint", 0x55b0],
  [0x55bc, "MaxCLL", "uint", 0x55b0],
  [0x55bd, "MaxFALL", "uint", 0x55b0],
  [0x55d0, "MasteringMetadata", "master", 0x55b0],
  [0x55d1, "PrimaryRChromaticityX", "float", 0x55d0],
  [0x55d2, "PrimaryRChromaticityY", "float", 0x55d0],
  [0x55d3, "PrimaryGChromaticityX", "float", 0x55d0],
  [0x55d4, "PrimaryGChromaticityY", "float", 0x55d0],
  [0x55d5, "PrimaryBChromaticityX", "float", 0x55d0],
  [0x55d6, "PrimaryBChromaticityY", "float", 0x55d0],
  [0x55d7, "WhitePointChromaticityX", "float", 0x55d0],
  [0x55d8, "WhitePointChromaticityY", "float", 0x55d0],
  [0x55d9, "LuminanceMax", "float", 0x55d0],
  [0x55da, "LuminanceMin", "float", 0x55d0],
  [0x7670, "Projection", "master", 0xe0],
  [0x7671, "ProjectionType", "uint", 0x7670],
  [0x7672, "ProjectionPrivate", "binary", 0x7670],
  [0x7673, "ProjectionPoseYaw", "float", 0x7670],
  [0x7674, "ProjectionPosePitch", "float", 0x7670],
  [0x7675, "ProjectionPoseRoll", "float", 0x7670],
  [0xe1, "Audio", "master", 0xae],
  [0xb5, "SamplingFrequency", "float", 0xe1],
  [0x78b5, "OutputSamplingFrequency", "float", 0xe1],
  [0x9f, "Channels", "uint", 0xe1],
  [0x6264, "BitDepth", "uint", 0xe1],
  [0xe2, "TrackOperation", "master", 0xae],
  [0x6d80, "ContentEncodings", "master", 0xae],
  [0x6240, "ContentEncoding", "master", 0x6d80],
  [0x5031, "ContentEncodingOrder", "uint", 0x6240],
  [0x5032, "ContentEncodingScope", "uint", 0x6240],
  [0x5033, "ContentEncodingType", "uint", 0x6240],
  [0x5034, "ContentCompression", "master", 0x6240],
  [0x4254, "ContentCompAlgo", "uint", 0x5034],
  [0x4255, "ContentCompSettings", "binary", 0x5034],
  [0x5035, "ContentEncryption", "master", 0x6240],
  // Cues
  [0x1c53bb6b, "Cues", "master", 0x18538067],
  [0xbb, "CuePoint", "master", 0x1c53bb6b],
  [0xb3, "CueTime", "uint", 0xbb],
  [0xb7, "CueTrackPositions", "master", 0xbb],
  [0xf7, "CueTrack", "uint", 0xb7],
  [0xf1, "CueClusterPosition", "uint", 0xb7],
  [0xf0, "CueRelativePosition", "uint", 0xb7],
  [0xb2, "CueDuration", "uint", 0xb7],
  [0x5378, "CueBlockNumber", "uint", 0xb7],
  [0xea, "CueCodecState", "uint", 0xb7],
  [0xdb, "CueReference", "master", 0xb7],
  [0x96, "CueRefTime", "uint", 0xdb],
  // Attachments
  [0x1941a469, "Attachments", "master", 0x18538067],
  [0x61a7, "AttachedFile", "master", 0x1941a469],
  [0x467e, "FileDescription", "utf8", 0x61a7],
  [0x466e, "FileName", "utf8", 0x61a7],
  [0x4660, "FileMediaType", "string", 0x61a7],
  [0x465c, "FileData", "binary", 0x61a7],
  [0x46ae, "FileUID", "uint", 0x61a7],
  // Chapters
  [0x1043a770, "Chapters", "master", 0x18538067],
  [0x45b9, "EditionEntry", "master", 0x1043a770],
  [0x45bc, "EditionUID", "uint", 0x45b9],
  [0x45bd, "EditionFlagHidden", "uint", 0x45b9],
  [0x45db, "EditionFlagDefault", "uint", 0x45b9],
  [0x45dd, "EditionFlagOrdered", "uint", 0x45b9],
  [0x4520, "EditionDisplay", "master", 0x45b9],
  [0x4521, "EditionString", "utf8", 0x4520],
  [0x45e4, "EditionLanguageIETF", "string", 0x4520],
  [0xb6, "ChapterAtom", "master", [0x45b9, 0xb6]],
  [0x73c4, "ChapterUID", "uint", 0xb6],
  [0x5654, "ChapterStringUID", "utf8", 0xb6],
  [0x91, "ChapterTimeStart", "uint", 0xb6],
  [0x92, "ChapterTimeEnd", "uint", 0xb6],
  [0x98, "ChapterFlagHidden", "uint", 0xb6],
  [0x4598, "ChapterFlagEnabled", "uint", 0xb6],
  [0x6e67, "ChapterSegmentUUID", "binary", 0xb6],
  [0x4588, "ChapterSkipType", "uint", 0xb6],
  [0x6ebc, "ChapterSegmentEditionUID", "uint", 0xb6],
  [0x63c3, "ChapterPhysicalEquiv", "uint", 0xb6],
  [0x8f, "ChapterTrack", "master", 0xb6],
  [0x89, "ChapterTrackUID", "uint", 0x8f],
  [0x80, "ChapterDisplay", "master", 0xb6],
  [0x85, "ChapString", "utf8", 0x80],
  [0x437c, "ChapLanguage", "string", 0x80],
  [0x437d, "ChapLanguageBCP47", "string", 0x80],
  [0x437e, "ChapCountry", "string", 0x80],
  [0x6944, "ChapProcess", "master", 0xb6],
  [0x6955, "ChapProcessCodecID", "uint", 0x6944],
  [0x450d, "ChapProcessPrivate", "binary", 0x6944],
  [0x6911, "ChapProcessCommand", "master", 0x6944],
  [0x6922, "ChapProcessTime", "uint", 0x6911],
  [0x6933, "ChapProcessData", "binary", 0x6911],
  // Tags
  [0x1254c367, "Tags", "master", 0x18538067],
  [0x7373, "Tag", "master", 0x1254c367],
  [0x63c0, "Targets", "master", 0x7373],
  [0x68ca, "TargetTypeValue", "uint", 0x63c0],
  [0x63ca, "TargetType", "string", 0x63c0],
  [0x63c5, "TagTrackUID", "uint", 0x63c0],
  [0x63c9, "TagEditionUID", "uint", 0x63c0],
  [0x63c4, "TagChapterUID", "uint", 0x63c0],
  [0x63c6, "TagAttachmentUID", "uint", 0x63c0],
  [0x67c8, "SimpleTag", "master", [0x7373, 0x67c8]],
  [0x45a3, "TagName", "utf8", 0x67c8],
  [0x447a, "TagLanguage", "string", 0x67c8],
  [0x447b, "TagLanguageBCP47", "string", 0x67c8],
  [0x4484, "TagDefault", "uint", 0x67c8],
  [0x44b4, "TagDefaultBogus", "uint", 0x67c8],
  [0x4487, "TagString", "utf8", 0x67c8],
  [0x4485, "TagBinary", "binary", 0x67c8],
];

function buildTable(): Map<number, ElementDef> {
  const parentsOf = new Map<number, number[]>();
  for (const [id, , , parent] of ROWS) {
    parentsOf.set(
      id,
      parent === GLOBAL ? [] : Array.isArray(parent) ? parent : [parent],
    );
  }
  const table = new Map<number, ElementDef>();
  for (const [id, name, type, parent] of ROWS) {
    const ancestors = new Set<number>();
    const todo = [...(parentsOf.get(id) ?? [])];
    while (todo.length > 0) {
      const p = todo.pop()!;
      if (p === TOP || ancestors.has(p)) continue;
      ancestors.add(p);
      todo.push(...(parentsOf.get(p) ?? []));
    }
    table.set(id, {
      id,
      name,
      type,
      parents: parentsOf.get(id)!,
      ancestors,
      global: parent === GLOBAL,
    });
  }
  return table;
}

const TABLE = buildTable();

/**
 * Look up an element by id; `undefined` for ids not in the table.
 *
 * @example
 * ```ts
 * import { elementById } from "./elements.ts";
 * elementById(0x1a45dfa3)?.name; // "EBML"
 * ```
 */
export function elementById(id: number): ElementDef | undefined {
  return TABLE.get(id);
}

/**
 * Look up an element by its Matroska name.
 *
 * @example
 * ```ts
 * import { elementByName } from "./elements.ts";
 * elementByName("TagName")?.id; // 0x45a3
 * ```
 */
export function elementByName(name: string): ElementDef | undefined {
  for (const def of TABLE.values()) if (def.name === name) return def;
  return undefined;
}

/**
 * Whether an element with definition `child` may stand anywhere inside a master
 * with id `ancestorId` (directly or deeper). Globals may stand anywhere.
 *
 * @example
 * ```ts
 * import { canDescend, elementById, ID } from "./elements.ts";
 * canDescend(elementById(ID.SimpleBlock)!, ID.Segment); // true
 * canDescend(elementById(ID.Tags)!, ID.Cluster);        // false: Tags ends an unknown-size Cluster
 * ```
 */
export function canDescend(child: ElementDef, ancestorId: number): boolean {
  return child.global || child.ancestors.has(ancestorId);
}
