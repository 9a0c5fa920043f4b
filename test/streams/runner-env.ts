/** What the child-process runners of the crash and takeover tests are told through their environment. */
export const requiredEnv = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};
