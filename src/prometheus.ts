// Placeholder until the integration lands (issue 4).
export {};
