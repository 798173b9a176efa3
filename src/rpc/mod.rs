//! XML-RPC: values, the codec, and Supervisor's fault codes.
