import { provideHttpClient, withInterceptors } from '@angular/common/http';
import {
  type ApplicationConfig,
  inject,
  provideAppInitializer,
  provideBrowserGlobalErrorListeners,
  provideZonelessChangeDetection,
} from '@angular/core';
import { provideRouter } from '@angular/router';

import { routes } from './app.routes';
import { csrfInterceptor, sessionExpiryInterceptor } from './core/auth/auth-interceptors';
import { HostsFeed } from './features/hosts/hosts-feed';

export const appConfig: ApplicationConfig = {
  providers: [
    provideBrowserGlobalErrorListeners(),
    provideZonelessChangeDetection(),
    provideRouter(routes),
    provideHttpClient(withInterceptors([csrfInterceptor, sessionExpiryInterceptor])),
    // Live feeds listen from the start: the server sends its snapshots right after the socket
    // connects, and a feed created later would miss them.
    provideAppInitializer(() => {
      inject(HostsFeed);
    }),
  ],
};
