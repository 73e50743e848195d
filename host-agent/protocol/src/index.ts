export * from './error-kind.js';
export * from './host.js';
export * from './agent-link.js';
export * from './console-feed.js';
export * from './signing.js';
export * from './engine-routes.js';
export * from './permissions.js';
export * from './link-streams.js';
