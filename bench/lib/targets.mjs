export function evaluateTargets() { return []; }
