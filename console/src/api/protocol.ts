// The wire types of the WebSocket protocol and shared REST shapes, generated from the Rust crate
// kefu-protocol (`kefu typescript`): a protocol change that the console does not follow fails
// `tsc`, not the user.
export type * from '../../../api/protocol/ts/kefu-protocol';
