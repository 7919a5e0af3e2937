/** Who is signed in, for every page: the role decides which controls are offered at all. */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Principal } from './api.js';

export const SessionContext = createContext<Principal>({ tokenId: '', name: '', role: 'viewer' });
export const useSession = (): Principal => useContext(SessionContext);
