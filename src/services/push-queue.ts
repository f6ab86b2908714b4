/**
 * Where services hand the pushes they want delivered. The delivering side (an outbox the push
 * dispatcher drains, retried until GeTui takes it) sits behind this port; a send never waits for
 * a push to reach a phone.
 */
export interface PushItem {
  receiverUid: number;
  /** Sent as the transmission's JSON content, exactly as given. */
  payload: Record<string, unknown>;
}

export interface PushQueue {
  enqueue(items: PushItem[]): Promise<void>;
}
