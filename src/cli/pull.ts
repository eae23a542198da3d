export function pullCommand(_a: string[]): Promise<number> {
  return Promise.resolve(1);
}
