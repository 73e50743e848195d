import { ChangeDetectionStrategy, Component, computed, inject, signal } from '@angular/core';
import { NonNullableFormBuilder, ReactiveFormsModule, Validators } from '@angular/forms';
import { MatButtonModule } from '@angular/material/button';
import { MatDialog } from '@angular/material/dialog';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { MatSnackBar } from '@angular/material/snack-bar';
import type { Permission } from '@skiff/protocol';

import { errorMessage } from '../../../core/errors/error-message';
import { confirmAction } from '../confirm-dialog';
import { PageActions } from '../page-actions';
import { PeopleApi } from '../people-api';
import { DISPLAY_NAME_PATTERN, MAX_DESCRIPTION_LENGTH, type PermissionInfo, type Role } from '../people-dtos';
import { PermissionPicker } from '../permission-picker';

/** The role being written: a new one (id null) or a custom one being changed. */
interface RoleDraft {
  id: string | null;
  name: string;
}

@Component({
  selector: 'skiff-role-list',
  imports: [
    ReactiveFormsModule,
    MatButtonModule,
    MatFormFieldModule,
    MatInputModule,
    MatProgressBarModule,
    PermissionPicker,
  ],
  templateUrl: './role-list.html',
  styleUrl: '../people-pages.scss',
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class RoleList {
  private readonly api = inject(PeopleApi);
  private readonly dialog = inject(MatDialog);
  protected readonly actions = new PageActions(inject(MatSnackBar));

  protected readonly roles = signal<Role[] | null>(null);
  protected readonly catalogue = signal<PermissionInfo[]>([]);
  protected readonly hasCustom = computed(() => this.roles()?.some((role) => !role.builtIn) ?? false);
  protected readonly loadError = signal<string | null>(null);

  protected readonly draft = signal<RoleDraft | null>(null);
  protected readonly chosen = signal<readonly Permission[]>([]);
  protected readonly pickError = signal(false);
  protected readonly form = inject(NonNullableFormBuilder).group({
    name: ['', [Validators.required, Validators.pattern(DISPLAY_NAME_PATTERN)]],
    description: ['', Validators.maxLength(MAX_DESCRIPTION_LENGTH)],
  });

  constructor() {
    void this.reload();
  }

  protected async reload(): Promise<void> {
    try {
      const [roles, catalogue] = await Promise.all([this.api.roles(), this.api.permissionCatalogue()]);
      this.roles.set(roles);
      this.catalogue.set(catalogue);
      this.loadError.set(null);
    } catch (error) {
      this.loadError.set(errorMessage(error));
    }
  }

  protected startNew(): void {
    this.form.reset({ name: '', description: '' });
    this.chosen.set([]);
    this.pickError.set(false);
    this.draft.set({ id: null, name: '' });
  }

  protected startEdit(role: Role): void {
    this.form.reset({ name: role.name, description: role.description });
    this.chosen.set(role.permissions);
    this.pickError.set(false);
    this.draft.set({ id: role.id, name: role.name });
  }

  protected async save(): Promise<void> {
    const draft = this.draft();
    if (!draft) {
      return;
    }
    this.pickError.set(this.chosen().length === 0);
    if (this.form.invalid || this.pickError()) {
      this.form.markAllAsTouched();
      return;
    }
    const input = { ...this.form.getRawValue(), permissions: [...this.chosen()] };
    const saved = await this.actions.run(
      () => (draft.id === null ? this.api.createRole(input) : this.api.updateRole(draft.id, input)),
      draft.id === null ? `Created role ${input.name}.` : `Saved role ${input.name}.`,
    );
    if (saved) {
      this.draft.set(null);
      await this.reload();
    }
  }

  protected async remove(role: Role): Promise<void> {
    const confirmed = await confirmAction(this.dialog, {
      title: `Delete role ${role.name}?`,
      message: 'A role that a grant still uses cannot be deleted: take those grants back first.',
      confirm: `Delete ${role.name}`,
    });
    if (confirmed && (await this.actions.run(() => this.api.deleteRole(role.id), `Deleted role ${role.name}.`))) {
      if (this.draft()?.id === role.id) {
        this.draft.set(null);
      }
      await this.reload();
    }
  }
}
