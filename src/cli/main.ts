// Placeholder entry replaced by the board CLI.
console.log('swarm');
