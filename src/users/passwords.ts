import { type Algorithm, hash, verify } from "@node-rs/argon2";

/**
 * argon2id with OWASP's first recommended parameter set (19 MiB, 2 passes, 1 lane).
 * The bench's hash-bound limit uses these same parameters.
 */
export const ARGON2_PARAMETERS = {
  algorithm: 2 as Algorithm, // Algorithm.Argon2id: a const enum, which verbatimModuleSyntax cannot import
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
};

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_PARAMETERS);
}

/** False for a wrong password and for a malformed stored hash. */
export async function verifyPassword(storedHash: string, password: string): Promise<boolean> {
  try {
    return await verify(storedHash, password);
  } catch {
    return false;
  }
}

/** A message of the password policy, with Kratos' message id (kratos.md §3.6.2). */
export interface PasswordViolation {
  id: number;
  text: string;
  context?: Record<string, number | string>;
}

function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}

function longestCommonSubstring(a: string, b: string): number {
  let best = 0;
  let previous = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    const current = new Array<number>(b.length + 1).fill(0);
    for (let j = 1; j <= b.length; j++) {
      if (a[i - 1] === b[j - 1]) {
        current[j] = previous[j - 1]! + 1;
        best = Math.max(best, current[j]!);
      }
    }
    previous = current;
  }
  return best;
}

/**
 * The password rules of kratos.md §3.6.2, except "equal to the current password", which needs the
 * stored hash and is checked by the caller. Returns the first violation, or null.
 */
export function checkPasswordPolicy(password: string, identifier: string): PasswordViolation | null {
  const length = [...password].length;
  if (length === 0) {
    return { id: 4000002, text: "Property password is missing.", context: { property: "password" } };
  }
  if (length < 8) {
    return {
      id: 4000032,
      text: `The password must be at least 8 characters long, but got ${length}.`,
      context: { min_length: 8, actual_length: length },
    };
  }
  if (length > 1024) {
    return {
      id: 4000033,
      text: `The password must be at most 1024 characters long, but got ${length}.`,
      context: { max_length: 1024, actual_length: length },
    };
  }
  const lowerPassword = password.toLowerCase();
  const lowerIdentifier = identifier.toLowerCase();
  if (lowerIdentifier !== "" && lowerPassword.length <= 256 && lowerIdentifier.length <= 256) {
    const tooClose = levenshtein(lowerPassword, lowerIdentifier) < 5;
    const sharesMost = longestCommonSubstring(lowerPassword, lowerIdentifier) > lowerPassword.length / 2;
    if (tooClose || sharesMost) {
      return {
        id: 4000031,
        text: "The password can not be used because it is too similar to the identifier.",
      };
    }
  }
  return null;
}

export const PASSWORD_UNCHANGED: PasswordViolation = {
  id: 4000039,
  text: "The new password must be different from the old password.",
};
