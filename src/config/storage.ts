import type { EnvReader } from './env-reader';

export interface S3Config {
  endPoint: string;
  port: number;
  useSSL: boolean;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region: string;
}

export interface StorageSection {
  /** Null: the blobs are kept in a folder of DATA_DIR. */
  s3: S3Config | null;
}

/** S3_*: the S3 store, or null (no S3_ENDPOINT) for the local folder in DATA_DIR. */
export function storageConfig(r: EnvReader): StorageSection {
  const endpoint = r.env.S3_ENDPOINT;
  if (!endpoint) return { s3: null };
  try {
    const u = new URL(endpoint.includes('://') ? endpoint : `http://${endpoint}`);
    const useSSL = u.protocol === 'https:';
    const s3: S3Config = {
      endPoint: u.hostname.replace(/^\[|\]$/g, ''),
      port: u.port ? Number(u.port) : useSSL ? 443 : 80,
      useSSL,
      accessKey: r.str('S3_ACCESS_KEY', 'minioadmin'),
      secretKey: r.str('S3_SECRET_KEY', 'minioadmin'),
      bucket: r.str('S3_BUCKET', 'glimpse-images'),
      region: r.str('S3_REGION', 'us-east-1'),
    };
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(s3.bucket)) {
      r.problem(`S3_BUCKET: not a valid bucket name: "${s3.bucket}"`);
    }
    return { s3 };
  } catch {
    r.problem(`S3_ENDPOINT: expected a URL such as http://127.0.0.1:9000, got "${endpoint}"`);
    return { s3: null };
  }
}
