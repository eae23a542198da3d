/** kvsaudio version (kept equal to deno.json "version"). */
export const VERSION = "0.1.0";
