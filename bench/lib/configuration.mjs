// How each system is configured, in words, for RESULTS.md. Kept next to systems.mjs's code.
export const CONFIGURATION = [];
