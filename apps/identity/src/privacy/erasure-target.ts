/** What an erasure in the graph is about: the repository finds it, the receipt records it. */
export interface ErasureTarget {
  /** The live profile (the survivor when the id given was merged away). */
  readonly profileId: string;
  readonly mergedProfileIds: readonly string[];
  readonly identities: readonly { key: string; type: string }[];
  /**
   * Profiles that linked this one (or one merged into it) as a separate person, an avatar or a
   * household member: their events name the person in a related group. As the edges name them
   * (a merged-away id included; its survivor follows the alias), sorted.
   */
  readonly linkedProfileIds: readonly string[];
}
