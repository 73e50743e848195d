/** Who is making a request, as the auth guard established it. */
export interface Actor {
  kind: 'user' | 'token';
  userId: string;
  username: string;
  /** Set for `token`: the API token used. */
  tokenId?: string;
  /** Set for `user`: the browser session used. */
  sessionId?: string;
}

/** Where a request came from, for the audit log and rate limits. */
export interface RequestOrigin {
  address: string | null;
  userAgent: string | null;
}
