/**
 * Keeping credentials out of everything kvsaudio prints: used by the CLI at
 * its output boundary and by the AWS layer for messages built from server
 * responses.
 *
 * @example
 * ```ts
 * import { hideSecrets } from "./secrets.ts";
 * hideSecrets("Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/…"); // "Authorization: [redacted]"
 * ```
 * @module
 */

const SECRET_ENV = ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ACCESS_KEY_ID"];
let secretValues: string[] | undefined;

function envSecrets(): string[] {
  if (secretValues === undefined) {
    secretValues = [];
    for (const name of SECRET_ENV) {
      let v: string | undefined;
      try {
        v = Deno.env.get(name);
      } catch {
        v = undefined; // no env permission: nothing to hide
      }
      if (v !== undefined && v.length >= 8) secretValues.push(v);
    }
  }
  return secretValues;
}

/**
 * Remove credentials and signed-request material from text about to be
 * printed (a last line of defence: error messages, retry reasons and debug
 * dumps may quote what a server or proxy sent back). Hides the AWS
 * credentials found in the environment wherever they appear, SigV4
 * `Authorization` values, `Credential=`/`Signature=`/`SignedHeaders=` pairs,
 * `X-Amz-Security-Token` (and its value) and access key ids. Never spans a
 * quote or a backslash, so an NDJSON line stays valid.
 *
 * @example
 * ```ts
 * import { hideSecrets } from "./secrets.ts";
 * hideSecrets("Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/…"); // "Authorization: [redacted]"
 * ```
 */
export function hideSecrets(text: string): string {
  let s = text;
  for (const v of envSecrets()) if (s.includes(v)) s = s.replaceAll(v, "[redacted]");
  s = s.replace(/AWS4-HMAC-SHA256[^\n'"\\]*/g, "[redacted]");
  s = s.replace(
    /\b(?:X-Amz-Credential|X-Amz-Signature|Credential|Signature|SignedHeaders)=[^\s,;&'"\\]*/gi,
    "[redacted]",
  );
  s = s.replace(/x-amz-security-token(?:\s*[:=]\s*[^\s,;&'"\\]*)?/gi, "[redacted]");
  s = s.replace(/\b(?:AKIA|ASIA|AIDA|AROA|AGPA|AIPA|ANPA|ANVA|APKA|ABIA|ACCA)[A-Z0-9]{12,}\b/g, "[redacted]");
  return s;
}
