// The softphone: Genesys's genesys-cloud-webrtc-sdk (MIT), used only when the web view has
// WebRTC and the agent's effective station is a WebRTC station. Its prebuilt bundle is shipped
// as softphone.js next to agent.js and loaded lazily (a <script src="softphone.js">, allowed by
// script-src 'self'), so the page stays light when it is not needed. Everything else about a
// call (hold, mute, transfer, hang up, wrap-up) goes through the Platform API either way.
//
// Tests stop at the SDK boundary (WebrtcSdk below) with a fake: WebRTC media cannot be tested
// under Node.
import type { StationInfo } from "./model";

export type PhoneMode =
  /** WebRTC station and the web view has WebRTC: the SDK rings in this app. */
  | "webrtc"
  /** WebRTC station but no RTCPeerConnection (e.g. Debian's WebKitGTK). */
  | "webrtc-no-media"
  /** WebRTC station against a non-Genesys API base (the emulator): no SDK. */
  | "webrtc-elsewhere"
  | "desk-phone"
  | "remote"
  | "none";

export function phoneMode(station: StationInfo | null, hasWebrtc: boolean, apiBase: string, environment: string): PhoneMode {
  if (station === null || station.kind === "none") return "none";
  if (station.kind === "webrtc") {
    if (!hasWebrtc) return "webrtc-no-media";
    return apiBase === `https://api.${environment}` ? "webrtc" : "webrtc-elsewhere";
  }
  return station.kind;
}

export interface PendingSession {
  conversationId: string;
  sessionId?: string;
  autoAnswer?: boolean;
  sessionType?: string;
}

/** The part of GenesysCloudWebrtcSdk (9.2.x) we use. */
export interface WebrtcSdk {
  initialize(): Promise<void>;
  setAccessToken(token: string): void;
  acceptPendingSession(params: { conversationId: string }): Promise<void>;
  on(event: string, handler: (...args: never[]) => void): unknown;
  destroy(): Promise<unknown>;
}

export interface WebrtcSdkConfig {
  accessToken: string;
  environment: string;
  allowedSessionTypes: string[];
  optOutOfTelemetry: boolean;
  originAppName: string;
  useHeadsets: boolean;
}

export type WebrtcSdkConstructor = new (config: WebrtcSdkConfig) => WebrtcSdk;

export function sdkConfig(accessToken: string, environment: string): WebrtcSdkConfig {
  return {
    accessToken,
    environment,
    allowedSessionTypes: ["softphone"],
    optOutOfTelemetry: true,
    originAppName: "Agent Shell",
    // Headset integrations load further chunks from a CDN path: off.
    useHeadsets: false,
  };
}

export class Softphone {
  private readonly pending = new Map<string, PendingSession>();

  constructor(
    private readonly sdk: WebrtcSdk,
    private readonly onError: (message: string) => void,
  ) {}

  static create(Ctor: WebrtcSdkConstructor, accessToken: string, environment: string, onError: (message: string) => void): Softphone {
    return new Softphone(new Ctor(sdkConfig(accessToken, environment)), onError);
  }

  async start(): Promise<void> {
    this.sdk.on("pendingSession", (session: PendingSession) => {
      if (session && typeof session.conversationId === "string") {
        this.pending.set(session.conversationId, session);
      }
    });
    const forget = (info: { conversationId?: string }) => {
      if (info && typeof info.conversationId === "string") this.pending.delete(info.conversationId);
    };
    this.sdk.on("cancelPendingSession", forget);
    this.sdk.on("handledPendingSession", forget);
    this.sdk.on("sdkError", (error: { message?: string }) => this.onError(error?.message ?? "softphone error"));
    await this.sdk.initialize();
  }

  hasPending(conversationId: string): boolean {
    return this.pending.has(conversationId);
  }

  /** Answers through the SDK when it holds a pending session for the call; false otherwise
   * (the caller then answers through the API). */
  async answer(conversationId: string): Promise<boolean> {
    if (!this.pending.has(conversationId)) return false;
    await this.sdk.acceptPendingSession({ conversationId });
    this.pending.delete(conversationId);
    return true;
  }

  setAccessToken(token: string): void {
    this.sdk.setAccessToken(token);
  }

  async destroy(): Promise<void> {
    await this.sdk.destroy();
  }
}

/** Injects <script src="softphone.js"> once and resolves with the SDK's constructor (the UMD
 * bundle sets window.GenesysCloudWebrtcSdk, its default export being the class). */
export function loadWebrtcSdk(doc: Document, win: Window): Promise<WebrtcSdkConstructor> {
  return new Promise((resolve, reject) => {
    const script = doc.createElement("script");
    script.src = "softphone.js";
    script.async = true;
    script.addEventListener("load", () => {
      const global = (win as unknown as Record<string, unknown>)["GenesysCloudWebrtcSdk"] as
        | { default?: unknown }
        | undefined;
      const Ctor = (global?.default ?? global) as unknown;
      if (typeof Ctor === "function") {
        resolve(Ctor as WebrtcSdkConstructor);
      } else {
        reject(new Error("softphone.js did not define GenesysCloudWebrtcSdk"));
      }
    });
    script.addEventListener("error", () => reject(new Error("softphone.js could not be loaded")));
    doc.head.appendChild(script);
  });
}
