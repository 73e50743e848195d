import { ChangeDetectionStrategy, Component, computed, input, model } from '@angular/core';
import { MatCheckboxModule } from '@angular/material/checkbox';
import type { Permission } from '@skiff/protocol';

import type { PermissionInfo } from './people-dtos';
import { groupByArea, inCatalogueOrder } from './permission-areas';

/** A checkbox per permission, grouped by area, each with the server's one-line description. */
@Component({
  selector: 'skiff-permission-picker',
  imports: [MatCheckboxModule],
  template: `
    <fieldset class="picker" [disabled]="disabled()">
      <legend>{{ legend() }}</legend>
      <div class="areas">
        @for (group of areas(); track group.area) {
          <fieldset class="area">
            <legend>{{ group.label }}</legend>
            @for (permission of group.permissions; track permission.name) {
              <mat-checkbox
                [checked]="isChosen(permission.name)"
                [disabled]="disabled()"
                (change)="toggle(permission.name, $event.checked)"
                [attr.data-permission]="permission.name"
              >
                <code>{{ permission.name }}</code>
                <span class="description">{{ permission.description }}</span>
              </mat-checkbox>
            }
          </fieldset>
        }
      </div>
    </fieldset>
  `,
  styles: `
    .picker {
      border: 1px solid var(--mat-sys-outline-variant);
      border-radius: 8px;
      padding: 8px 12px 12px;
      margin: 0;
    }
    .picker > legend {
      font: var(--mat-sys-title-small);
      padding: 0 4px;
    }
    .areas {
      display: grid;
      grid-template-columns: repeat(auto-fill, minmax(280px, 1fr));
      gap: 8px 16px;
    }
    .area {
      border: none;
      margin: 0;
      padding: 0;
      display: flex;
      flex-direction: column;
    }
    .area > legend {
      font: var(--mat-sys-label-large);
      color: var(--skiff-muted);
      padding: 8px 0 0;
    }
    .description {
      display: block;
      color: var(--skiff-muted);
      font: var(--mat-sys-body-small);
    }
  `,
  changeDetection: ChangeDetectionStrategy.OnPush,
})
export class PermissionPicker {
  readonly catalogue = input.required<readonly PermissionInfo[]>();
  readonly selected = model<readonly Permission[]>([]);
  readonly legend = input('Permissions');
  readonly disabled = input(false);

  protected readonly areas = computed(() => groupByArea(this.catalogue()));
  private readonly chosen = computed(() => new Set(this.selected()));

  protected isChosen(permission: Permission): boolean {
    return this.chosen().has(permission);
  }

  protected toggle(permission: Permission, checked: boolean): void {
    const next = new Set(this.selected());
    if (checked) {
      next.add(permission);
    } else {
      next.delete(permission);
    }
    this.selected.set(inCatalogueOrder(this.catalogue(), next));
  }
}
