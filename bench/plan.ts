const MiB = 1024 * 1024;

/** What one run measures, and how much of it: BENCH_QUICK=1 is the small version (under a minute). */
export interface Plan {
  quick: boolean;
  /** Interleaved rounds per figure; the figure is their median. */
  rounds: number;
  /** An untimed round per variant first (connections, JIT); the quick version goes without. */
  warmup: boolean;
  /** Quiet time before reading a server's idle RSS. */
  idleMs: number;
  upload: { sizes: number[]; clients: number[]; perClient(size: number, clients: number): number };
  download: { sizes: number[]; clients: number[]; perClient(size: number, clients: number): number };
  memory: { bytes: number; rounds: number; maxImageBytes: number };
  /** `newRegistrations`: the sign-ups a `register` round makes (each a number the server has not seen). */
  requests: { connections: number; seconds: number; rounds: number; newRegistrations: number };
  images: { smallRows: number; largeRows: number; samples: number; settleMs: number };
  /**
   * Issue 10: sendImage + download with encryption at rest on and off, alternating; perSample is
   * even. Each fresh pair first runs `warmupRounds` untimed: a fresh process downloads sealed
   * images slower than plain ones at first (a probe of six fresh pairs, 1 MiB: 0.91–0.93 after
   * one warm-up round, 1.05–1.09 after eight; V8 optimising the sealed path is the likely part),
   * and a server runs for far longer than that.
   */
  encryption: {
    sizes: number[];
    pairs: number;
    roundsPerPair: number;
    perSample(size: number): number;
    /** Sends of each kind in a warm-up round: warm-ups only need the code paths hot, not samples. */
    warmupPerSample(size: number): number;
    warmupRounds(size: number): number;
    /** Timed rounds download each image this many times (a URL each): downloads are a third of the time a send is. */
    downloadsPerImage: number;
  };
  /**
   * main.ts's heap tuning against V8's default growth: `pairs` of fresh processes (one of each),
   * worked in turn; a round sends `imagesPerRound` 1 MiB images through each and downloads each
   * image `downloadsPerImage` times. In probes, V8's default fell into back-to-back full
   * collections only after some hundreds of requests, in about half the processes.
   */
  gc: { pairs: number; imagesPerRound: number; downloadsPerImage: number; warmupRounds: number; rounds: number };
  /**
   * Metrics and tracing against neither: `sets` of four fresh processes, each first running
   * `warmupRounds` untimed, then `roundsPerSet` rounds of `sendsPerRound` 1 MiB sends and
   * `meSeconds` of `me` per process. A fresh process's CPU per `me` falls for its first seconds
   * under load (JIT), so the warm-up rounds are full-length ones.
   */
  metrics: { sets: number; roundsPerSet: number; warmupRounds: number; sendsPerRound: number; meSeconds: number; scrapeEveryMs: number };
  social: {
    /** Users seeded with SQL into each of the two databases discovery is compared on. */
    smallUsers: number;
    largeUsers: number;
    /** Untimed calls of each variant before its timed rounds. */
    warmups: number;
    /** Interleaved rounds of discoverContacts, and of sendImage against sendGroupImage. */
    discoveryRounds: number;
    groupRounds: number;
    /** Other members of the group (the sender makes one more). */
    members: number;
    /**
     * Measure discovery at the buffer pool as found, then raise the pool to hold the index and
     * measure again (the goal's figure). The quick version's index fits any pool: it does neither,
     * and leaves the shared MariaDB's settings alone.
     */
    resizePool: boolean;
    settleMs: number;
  };
  /** Subscriptions: events per latency figure (the poll's take a second each), and the idle crowd. */
  realtime: { samples: number; pollSamples: number; idleConnections: number; idleUsers: number; fanoutEvents: number };
}

export function makePlan(quick: boolean): Plan {
  const cells = { sizes: [1 * MiB, 10 * MiB], clients: [1, 16] };
  if (quick) {
    return {
      quick,
      rounds: 1,
      warmup: false,
      idleMs: 200,
      upload: { ...cells, perClient: (size, clients) => (clients > 1 || size > MiB ? 1 : 3) },
      download: { ...cells, perClient: (size, clients) => (clients > 1 || size > MiB ? 1 : 3) },
      memory: { bytes: 32 * MiB, rounds: 1, maxImageBytes: 256 * MiB },
      requests: { connections: 32, seconds: 1, rounds: 1, newRegistrations: 300 },
      images: { smallRows: 1_000, largeRows: 10_000, samples: 30, settleMs: 0 },
      encryption: {
        sizes: [MiB, 10 * MiB],
        pairs: 1,
        roundsPerPair: 2,
        perSample: () => 2,
        warmupPerSample: () => 2,
        warmupRounds: () => 0,
        downloadsPerImage: 1,
      },
      gc: { pairs: 1, imagesPerRound: 2, downloadsPerImage: 1, warmupRounds: 1, rounds: 1 },
      social: {
        smallUsers: 1_000,
        largeUsers: 10_000,
        warmups: 2,
        discoveryRounds: 5,
        groupRounds: 5,
        members: 8,
        resizePool: false,
        settleMs: 0,
      },
      metrics: { sets: 1, roundsPerSet: 1, warmupRounds: 0, sendsPerRound: 2, meSeconds: 1, scrapeEveryMs: 1000 },
      realtime: { samples: 30, pollSamples: 10, idleConnections: 1_000, idleUsers: 10, fanoutEvents: 2 },
    };
  }
  return {
    quick,
    rounds: 7,
    warmup: true,
    idleMs: 1000,
    // Enough per round that a round lasts well beyond timer and scheduling noise (~0.2-1 s).
    upload: { ...cells, perClient: (size, clients) => (clients > 1 ? (size > MiB ? 1 : 3) : size > MiB ? 4 : 16) },
    download: { ...cells, perClient: (size, clients) => (clients > 1 ? (size > MiB ? 2 : 6) : size > MiB ? 8 : 32) },
    memory: { bytes: 200 * MiB, rounds: 3, maxImageBytes: 256 * MiB },
    requests: { connections: 32, seconds: 5, rounds: 4, newRegistrations: 4000 },
    images: { smallRows: 10_000, largeRows: 1_000_000, samples: 300, settleMs: 90_000 },
    encryption: {
      sizes: [MiB, 10 * MiB],
      pairs: 16,
      roundsPerPair: 6,
      perSample: (size) => (size > MiB ? 4 : 16),
      warmupPerSample: (size) => (size > MiB ? 2 : 8),
      warmupRounds: (size) => (size > MiB ? 4 : 6),
      downloadsPerImage: 3,
    },
    gc: { pairs: 4, imagesPerRound: 60, downloadsPerImage: 2, warmupRounds: 1, rounds: 2 },
    social: {
      smallUsers: 10_000,
      largeUsers: 1_000_000,
      warmups: 5,
      discoveryRounds: 40,
      groupRounds: 40,
      members: 50,
      resizePool: true,
      settleMs: 90_000,
    },
    // Prometheus scrapes every 15-60 s; every 5 s puts more of a scrape's cost in the figure, not less.
    metrics: { sets: 8, roundsPerSet: 3, warmupRounds: 1, sendsPerRound: 40, meSeconds: 2, scrapeEveryMs: 5000 },
    realtime: { samples: 300, pollSamples: 100, idleConnections: 10_000, idleUsers: 10, fanoutEvents: 10 },
  };
}

export { MiB };
